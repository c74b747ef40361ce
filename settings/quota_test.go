package settings

import (
	"maps"
	"strings"
	"testing"

	"detachkeypair/detach"
)

// TestQuotaSettings: API_QPS and MAX_FUNCTION_INSTANCES are read as documented.
func TestQuotaSettings(t *testing.T) {
	s, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxFunctionInstances != 1 || s.APIQPS != nil {
		t.Errorf("defaults: MAX_FUNCTION_INSTANCES %d, API_QPS %v; want 1 and none", s.MaxFunctionInstances, s.APIQPS)
	}
	s, err = load(map[string]string{"MAX_FUNCTION_INSTANCES": "10", "API_QPS": " ecs:DetachKeyPair=10 , ens:DescribeInstances=12.5,ecs:DescribeKeyPairs=0"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[detach.QuotaKey]float64{
		{Product: detach.ProductECS, API: detach.APIDetachKeyPair}:     10,
		{Product: detach.ProductENS, API: detach.APIDescribeInstances}: 12.5,
		{Product: detach.ProductECS, API: detach.APIDescribeKeyPairs}:  0,
	}
	if s.MaxFunctionInstances != 10 || !maps.Equal(s.APIQPS, want) {
		t.Errorf("MAX_FUNCTION_INSTANCES %d, API_QPS %v; want 10 and %v", s.MaxFunctionInstances, s.APIQPS, want)
	}
}

// TestBadQuotaSettings: each bad API_QPS entry, and more instances than a quota has calls
// a second, stop the function with a message that names the setting and says what to do.
func TestBadQuotaSettings(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"API_QPS": "DetachKeyPair=10"}, `setting API_QPS="DetachKeyPair=10" is invalid: "DetachKeyPair" is not an API the function paces: want one of ecs:DescribeKeyPairs`},
		{map[string]string{"API_QPS": "ecs:ListTagResources=10"}, `"ecs:ListTagResources" is not an API the function paces`},
		{map[string]string{"API_QPS": "ECS:DetachKeyPair=10"}, `"ECS:DetachKeyPair" is not an API the function paces`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair"}, `"ecs:DetachKeyPair": want <API>=<calls a second>`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair=fast"}, `"ecs:DetachKeyPair=fast": want a number of calls a second from 0 (unpaced) to 10000`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair=-1"}, `want a number of calls a second`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair=NaN"}, `want a number of calls a second`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair=5,ecs:DetachKeyPair=6"}, `ecs:DetachKeyPair is given twice`},
		{map[string]string{"API_QPS": "ecs:DetachKeyPair=5,"}, `an entry is empty`},
		{map[string]string{"MAX_FUNCTION_INSTANCES": "1001"}, `setting MAX_FUNCTION_INSTANCES="1001" is invalid: want a whole number from 1 to 1000`},
		{map[string]string{"MAX_FUNCTION_INSTANCES": "21"}, `setting MAX_FUNCTION_INSTANCES="21" is invalid: more instances than ECS_QPS=20 calls a second`},
		{map[string]string{"MAX_FUNCTION_INSTANCES": "10", "ENS_QPS": "7.5"}, `more instances than ENS_QPS=7.5 calls a second: each instance paces every API at the quota divided by the instances, and below one call a second each, instances that run at once could exceed the quota within a second; set at most 7`},
		{map[string]string{"MAX_FUNCTION_INSTANCES": "10", "API_QPS": "ens:DetachKeyPair=5"}, `more instances than API_QPS ens:DetachKeyPair=5 calls a second`},
	} {
		_, err := load(c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.env, err, c.want)
		}
	}
	// an unpaced quota (0) divides nothing
	if _, err := load(map[string]string{"MAX_FUNCTION_INSTANCES": "50", "ECS_QPS": "0", "ENS_QPS": "0", "API_QPS": "ecs:DetachKeyPair=50"}); err != nil {
		t.Errorf("unpaced quotas: %v", err)
	}
}
