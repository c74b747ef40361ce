package detach

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	ok := `"KeyPairName":"ops-2026","InstanceIds":["i-bp1a","i-bp1b"]`
	cases := []struct {
		name, body, code, inMessage string
	}{
		{"valid by name", `{` + ok + `}`, "", ""},
		{"valid by id with region and dry run", `{"RegionId":"cn-hangzhou","KeyPairId":"ssh-bp67acfmxazb4p0001","InstanceIds":["i-bp1a"],"DryRun":true}`, "", ""},
		{"valid targets", `{"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":"env","Value":"staging"}],"ResourceGroupId":"rg-acfmz1"}}`, "", ""},
		{"valid empty targets", `{"KeyPairName":"ops-2026","Targets":{}}`, "", ""},
		{"not json", `nope`, "InvalidParameter.Body", "JSON object"},
		{"array", `[1]`, "InvalidParameter.Body", "JSON object"},
		{"trailing data", `{` + ok + `} {}`, "InvalidParameter.Body", "after the object"},
		{"unknown field", `{` + ok + `,"InstanceID":"i-x"}`, "InvalidParameter.InstanceID", "unknown field"},
		{"case differs", `{"keypairname":"ops-2026","InstanceIds":["i-a"]}`, "InvalidParameter.keypairname", "unknown field"},
		{"unprintable unknown field", `{` + ok + `,"a b":1}`, "InvalidParameter.Body", "unknown field"},
		{"repeated field", `{` + ok + `,"KeyPairName":"x-2"}`, "InvalidParameter.KeyPairName", "more than once"},
		{"wrong type", `{"KeyPairName":"ops-2026","InstanceIds":"i-a"}`, "InvalidParameter.InstanceIds", "array of strings"},
		{"wrong type bool", `{` + ok + `,"DryRun":"yes"}`, "InvalidParameter.DryRun", "true or false"},
		{"no key pair", `{"InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairId", "KeyPairId or KeyPairName"},
		{"bad key pair id", `{"KeyPairId":"key-1","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairId", "not a key pair id"},
		{"bad key pair name", `{"KeyPairName":"*","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairName", "not a key pair name"},
		{"bad region", `{"RegionId":"Hangzhou","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "InvalidParameter.RegionId", "region id"},
		{"no instances", `{"KeyPairName":"ops-2026"}`, "InvalidParameter.InstanceIds", "InstanceIds or Targets"},
		{"empty instances", `{"KeyPairName":"ops-2026","InstanceIds":[]}`, "InvalidParameter.InstanceIds", "at least one"},
		{"both instances and targets", `{"KeyPairName":"ops-2026","InstanceIds":["i-a"],"Targets":{}}`, "InvalidParameter.InstanceIds", "not both"},
		{"duplicate id", `{"KeyPairName":"ops-2026","InstanceIds":["i-a","i-b","i-a"]}`, "InvalidParameter.InstanceIds", "duplicate id i-a"},
		{"upper-case id", `{"KeyPairName":"ops-2026","InstanceIds":["i-a","I-B"]}`, "InvalidParameter.InstanceIds", `InstanceIds[1] "I-B"`},
		{"id without prefix", `{"KeyPairName":"ops-2026","InstanceIds":["bp1"]}`, "InvalidParameter.InstanceIds", "not an instance id"},
		{"targets typo", `{"KeyPairName":"ops-2026","Targets":{"Tag":[]}}`, "InvalidParameter.Targets", "Targets.Tag: unknown field"},
		{"tag typo", `{"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":"a","Val":"b"}]}}`, "InvalidParameter.Targets", "Targets.Tags[0].Val"},
		{"tag without key", `{"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":"","Value":"b"}]}}`, "InvalidParameter.Targets", "Targets.Tags[0].Key must not be empty"},
		{"bad resource group", `{"KeyPairName":"ops-2026","Targets":{"ResourceGroupId":"group"}}`, "InvalidParameter.Targets", "resource group"},
		{"too many ids", `{"KeyPairName":"ops-2026","InstanceIds":["i-a","i-b","i-c","i-d"]}`, "InvalidParameter.InstanceIds", "at most 3"},
		// null is never a value: it must not mean "false" or "absent"
		{"null dry run", `{` + ok + `,"DryRun":null}`, "InvalidParameter.DryRun", "must not be null"},
		{"null instances", `{"KeyPairName":"ops-2026","InstanceIds":null}`, "InvalidParameter.InstanceIds", "must not be null"},
		{"null key pair name", `{"KeyPairId":"ssh-bp67acfmxazb4p0001","KeyPairName":null,"InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairName", "must not be null"},
		{"null key pair id", `{"KeyPairId":null,"KeyPairName":"ops-2026","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairId", "must not be null"},
		{"null region", `{"RegionId":null,` + ok + `}`, "InvalidParameter.RegionId", "must not be null"},
		{"null targets", `{"KeyPairName":"ops-2026","Targets":null}`, "InvalidParameter.Targets", "must not be null"},
		{"null tags", `{"KeyPairName":"ops-2026","Targets":{"Tags":null}}`, "InvalidParameter.Targets", "Targets.Tags: must not be null"},
		{"null resource group", `{"KeyPairName":"ops-2026","Targets":{"ResourceGroupId":null}}`, "InvalidParameter.Targets", "Targets.ResourceGroupId: must not be null"},
		{"null tag", `{"KeyPairName":"ops-2026","Targets":{"Tags":[null]}}`, "InvalidParameter.Targets", "Targets.Tags[0] must be a JSON object"},
		{"null tag key", `{"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":null,"Value":"b"}]}}`, "InvalidParameter.Targets", "Targets.Tags[0].Key: must not be null"},
		{"null tag value", `{"KeyPairName":"ops-2026","Targets":{"Tags":[{"Key":"a","Value":null}]}}`, "InvalidParameter.Targets", "Targets.Tags[0].Value: must not be null"},
		{"null instance id", `{"KeyPairName":"ops-2026","InstanceIds":["i-a",null]}`, "InvalidParameter.InstanceIds", "InstanceIds[1]"},
		// names follow ECS's rule: 2 to 128 characters, no control characters
		{"one-character name", `{"KeyPairName":"k","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairName", "2 to 128"},
		{"129-character name", `{"KeyPairName":"k` + strings.Repeat("x", 128) + `","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairName", "2 to 128"},
		{"control character in name", `{"KeyPairName":"ops\u00002026","InstanceIds":["i-a"]}`, "InvalidParameter.KeyPairName", `\x00`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(c.body), 3)
			if c.code == "" {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, got no error", c.code)
			}
			if err.Code != c.code || err.Status != 400 {
				t.Fatalf("want %s (400), got %s (%d): %s", c.code, err.Code, err.Status, err.Message)
			}
			if !strings.Contains(err.Message, c.inMessage) || !strings.HasPrefix(err.Message, "The specified field ") {
				t.Fatalf("message %q should contain %q", err.Message, c.inMessage)
			}
		})
	}
}

// TestEchoesAreBounded: whatever the caller sends, the message of the error echoes at
// most about a hundred characters of it, with control characters escaped.
func TestEchoesAreBounded(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	for name, body := range map[string]string{
		"key pair name":     `{"KeyPairName":"` + huge + `","InstanceIds":["i-a"]}`,
		"key pair id":       `{"KeyPairId":"` + huge + `","InstanceIds":["i-a"]}`,
		"region":            `{"RegionId":"` + huge + `","KeyPairName":"ops-2026","InstanceIds":["i-a"]}`,
		"instance id":       `{"KeyPairName":"ops-2026","InstanceIds":["` + huge + `"]}`,
		"resource group":    `{"KeyPairName":"ops-2026","Targets":{"ResourceGroupId":"` + huge + `"}}`,
		"unknown field":     `{"KeyPairName":"ops-2026","InstanceIds":["i-a"],"` + huge + `":1}`,
		"unknown nested":    `{"KeyPairName":"ops-2026","Targets":{"` + huge + `":1}}`,
		"control character": `{"KeyPairName":"` + strings.Repeat("\\u0001", 5000) + `","InstanceIds":["i-a"]}`,
	} {
		_, err := ParseRequest([]byte(body), 10)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if len(err.Message) > 400 || len(err.Code) > 100 {
			t.Errorf("%s: %d-byte message, %d-byte code: %.200s", name, len(err.Message), len(err.Code), err.Message)
		}
		if strings.ContainsRune(err.Message, 1) {
			t.Errorf("%s: a control character reached the message", name)
		}
	}
}
