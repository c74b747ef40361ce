package detach

import (
	"strings"
	"testing"
)

func TestForProduct(t *testing.T) {
	ecsTargets := `"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":"env","Value":"staging"}],"ResourceGroupId":"rg-acfmz1"}`
	ensTargets := `"KeyPairId":"ssh-5lywanlkih1zo9yl8eg0001","Targets":{"Tags":[{"Key":"env"}],"EnsRegionIds":["cn-beijing-cmcc","cn-chengdu-telecom-4"]}`
	cases := []struct {
		name, body, def, product, code, inMessage string
	}{
		{"ECS by default", `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1a"]}`, "", ProductECS, "", ""},
		{"the setting's default", `{"KeyPairName":"ops-2026","InstanceIds":["i-5iqczfxps7csjrxeca070001"]}`, ProductENS, ProductENS, "", ""},
		{"the request's product wins", `{"Product":"ECS","RegionId":"cn-hangzhou","KeyPairName":"ops-2026","InstanceIds":["i-bp1a"]}`, ProductENS, ProductECS, "", ""},
		{"ECS targets", `{` + ecsTargets + `}`, "", ProductECS, "", ""},
		{"ENS targets", `{"Product":"ENS",` + ensTargets + `}`, "", ProductENS, "", ""},
		{"unknown product", `{"Product":"RDS","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "", "", "InvalidParameter.Product", `"RDS" is not a product`},
		{"product names are exact", `{"Product":"ens","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "", "", "InvalidParameter.Product", "give ECS or ENS"},
		{"long product echoed short", `{"Product":"` + strings.Repeat("X", 500) + `","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "", "", "InvalidParameter.Product", "(500 bytes in all)"},
		{"RegionId with ENS", `{"Product":"ENS","RegionId":"cn-hangzhou","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "", "", "InvalidParameter.RegionId", "ENS has no API regions"},
		{"RegionId with ENS by default", `{"RegionId":"cn-hangzhou","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, ProductENS, "", "InvalidParameter.RegionId", "leave RegionId out"},
		{"ResourceGroupId with ENS", `{"Product":"ENS",` + ecsTargets + `}`, "", "", "InvalidParameter.Targets", "Targets.ResourceGroupId"},
		{"EnsRegionIds with ECS", `{"Product":"ECS",` + ensTargets + `}`, "", "", "InvalidParameter.Targets", "Targets.EnsRegionIds"},
		{"EnsRegionIds with ECS by default", `{` + ensTargets + `}`, "", "", "InvalidParameter.Targets", "Targets.EnsRegionIds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(c.body), 1000)
			if err == nil {
				err = req.ForProduct(c.def)
			}
			if c.code == "" {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				if req.Product != c.product {
					t.Fatalf("product %q, want %q", req.Product, c.product)
				}
				return
			}
			if err == nil || err.Code != c.code || err.Status != 400 || !strings.Contains(err.Message, c.inMessage) {
				t.Fatalf("got %+v, want %s containing %q", err, c.code, c.inMessage)
			}
			if len(err.Message) > 300 {
				t.Errorf("message of %d bytes echoes too much input", len(err.Message))
			}
		})
	}
}

func TestParseEnsRegionIds(t *testing.T) {
	for body, want := range map[string]string{
		`{"KeyPairId":"ssh-a1","Targets":{"EnsRegionIds":["cn-beijing-cmcc"]}}`:                                "",
		`{"KeyPairId":"ssh-a1","Targets":{"EnsRegionIds":["Beijing"]}}`:                                        `Targets.EnsRegionIds[0] "Beijing" is not an ENS edge region id`,
		`{"KeyPairId":"ssh-a1","Targets":{"EnsRegionIds":"cn-beijing-cmcc"}}`:                                  "must be an array of strings",
		`{"KeyPairId":"ssh-a1","Targets":{"EnsRegionIds":[` + strings.Repeat(`"cn-a-b",`, 100) + `"cn-a-b"]}}`: "at most 100",
	} {
		_, err := ParseRequest([]byte(body), 1000)
		switch {
		case want == "" && err != nil:
			t.Errorf("%.80s: %v", body, err)
		case want != "" && (err == nil || err.Code != "InvalidParameter.Targets" || !strings.Contains(err.Message, want)):
			t.Errorf("%.80s: got %+v, want InvalidParameter.Targets containing %q", body, err, want)
		}
	}
}

// TestProductQPS: each product's APIs are paced at its own quota.
func TestProductQPS(t *testing.T) {
	s := NewService(Options{QPS: 20, ProductQPS: map[string]float64{ProductENS: 5}})
	ecsPacer := s.pacer(Limits{Product: ProductECS, Region: "cn-hangzhou"}, APIDetachKeyPair)
	ensPacer := s.pacer(Limits{Product: ProductENS}, APIDetachKeyPair)
	if got := float64(ecsPacer.lim.Limit()); got != 20*paceMargin {
		t.Errorf("ECS paced at %v, want %v", got, 20*paceMargin)
	}
	if got := float64(ensPacer.lim.Limit()); got != 5*paceMargin {
		t.Errorf("ENS paced at %v, want %v", got, 5*paceMargin)
	}
}
