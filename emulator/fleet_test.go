package emulator_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"detachkeypair/emulator"
)

var update = flag.Bool("update", false, "rewrite testdata/fleet.json from buildFleet")

// buildFleet is the source of testdata/fleet.json (go test ./emulator -run
// TestFleetFixture -update rewrites the file). Other packages write sample
// events against this fleet: change it only by adding.
func buildFleet() *emulator.Fixture {
	f := &emulator.Fixture{Regions: []string{"cn-hangzhou", "cn-shanghai", "ap-southeast-1"}}
	kp := func(region, id, name, group, created string, tags ...emulator.Tag) {
		sum := md5.Sum([]byte(id))
		hexes := make([]string, len(sum))
		for i, b := range sum {
			hexes[i] = fmt.Sprintf("%02x", b)
		}
		// A made-up ed25519 public key (no private key exists): the key type,
		// then 32 bytes of a hash of the id, as OpenSSH encodes it.
		blob := append([]byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"), sum256(id)...)
		f.KeyPairs = append(f.KeyPairs, emulator.KeyPair{RegionId: region, KeyPairId: id, KeyPairName: name,
			FingerPrint: strings.Join(hexes, ":"), ResourceGroupId: group, Tags: tags, CreationTime: created,
			PublicKey: "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + name})
	}
	tag := func(k, v string) emulator.Tag { return emulator.Tag{Key: k, Value: v} }
	kp("cn-hangzhou", "ssh-bp67acfmxazb4p0001", "ops-2026", "rg-acfmzdefault01", "2026-01-05T08:00Z", tag("owner", "ops"))
	kp("cn-hangzhou", "ssh-bp67acfmxazb4p0002", "deploy-ci", "rg-acfmzprod00001", "2025-06-18T03:12Z", tag("owner", "platform"))
	kp("cn-hangzhou", "ssh-bp67acfmxazb4p0003", "ops-2026-backup", "rg-acfmzdefault01", "2026-01-05T08:05Z", tag("owner", "ops"))
	kp("cn-hangzhou", "ssh-bp67acfmxazb4p0004", "fleet-2026", "rg-acfmzprod00001", "2026-02-01T00:00Z", tag("owner", "fleet"))
	kp("cn-hangzhou", "ssh-bp67acfmxazb4p0005", "legacy-admin", "rg-acfmzdefault01", "2023-04-11T09:30Z", tag("owner", "ops"), tag("deprecated", "true"))
	kp("cn-shanghai", "ssh-uf6bkqbwbwwj8p0001", "ops-2026", "rg-acfmzdefault01", "2026-01-05T08:10Z", tag("owner", "ops"))

	hz := []string{"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"}
	in := func(n int, name, status, keyPair, group, typ string, tags ...emulator.Tag) {
		f.Instances = append(f.Instances, emulator.Instance{RegionId: "cn-hangzhou",
			InstanceId: fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n), InstanceName: name, ZoneId: hz[n%len(hz)],
			Status: status, KeyPairName: keyPair, ResourceGroupId: group, Tags: tags, InstanceType: typ})
	}
	const staging, prod, dev = "rg-acfmzstaging001", "rg-acfmzprod00001", "rg-acfmzdev000001"
	for n := 1; n <= 10; n++ {
		in(n, fmt.Sprintf("payments-staging-%02d", n), "Stopped", "ops-2026", staging, "ecs.g7.large", tag("env", "staging"), tag("team", "payments"))
	}
	for n := 11; n <= 15; n++ {
		in(n, fmt.Sprintf("web-staging-%02d", n-10), "Running", "ops-2026", staging, "ecs.g7.large", tag("env", "staging"))
	}
	for n := 16; n <= 20; n++ {
		in(n, fmt.Sprintf("ci-runner-prod-%02d", n-15), "Stopped", "deploy-ci", prod, "ecs.c7.xlarge", tag("env", "prod"))
	}
	for n := 21; n <= 25; n++ {
		in(n, fmt.Sprintf("sandbox-dev-%02d", n-20), "Stopped", "", dev, "ecs.t6-c1m2.large", tag("env", "dev"))
	}
	for n := 26; n <= 30; n++ {
		in(n, fmt.Sprintf("backup-dev-%02d", n-25), "Stopped", "ops-2026-backup", dev, "ecs.g7.large", tag("env", "dev"))
	}
	for n := 31; n <= 1230; n++ {
		status, env := "Stopped", "dev"
		if n%10 == 0 {
			status = "Running"
		}
		if n%2 == 1 {
			env = "prod"
		}
		in(n, fmt.Sprintf("fleet-%s-%04d", env, n-30), status, "fleet-2026", prod, "ecs.c7.large", tag("env", env), tag("team", "fleet"))
	}
	for n := 1; n <= 4; n++ {
		f.Instances = append(f.Instances, emulator.Instance{RegionId: "cn-shanghai",
			InstanceId: fmt.Sprintf("i-uf6bkqbwbwwj8y%04d", n), InstanceName: fmt.Sprintf("ops-shanghai-%02d", n),
			ZoneId: []string{"cn-shanghai-b", "cn-shanghai-e"}[n%2], Status: "Stopped", KeyPairName: "ops-2026",
			ResourceGroupId: staging, Tags: []emulator.Tag{tag("env", "staging")}, InstanceType: "ecs.g7.large"})
	}
	for n := 1; n <= 2; n++ {
		f.Instances = append(f.Instances, emulator.Instance{RegionId: "ap-southeast-1",
			InstanceId: fmt.Sprintf("i-t4n3axw9fvc8pn1a%04d", n), InstanceName: fmt.Sprintf("edge-sg-%02d", n),
			ZoneId: []string{"ap-southeast-1a", "ap-southeast-1b"}[n%2], Status: []string{"Stopped", "Running"}[n%2],
			ResourceGroupId: dev, Tags: []emulator.Tag{tag("env", "dev")}, InstanceType: "ecs.g7.large"})
	}
	// Windows instances, without key pairs: the key pair APIs refuse them
	// (403 DependencyViolation.WindowsInstance).
	for n := 1231; n <= 1233; n++ {
		f.Instances = append(f.Instances, emulator.Instance{RegionId: "cn-hangzhou",
			InstanceId: fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n), InstanceName: fmt.Sprintf("win-build-dev-%02d", n-1230), ZoneId: hz[n%len(hz)],
			Status: map[bool]string{true: "Running", false: "Stopped"}[n == 1233], ResourceGroupId: dev,
			Tags: []emulator.Tag{tag("env", "dev"), tag("os", "windows")}, InstanceType: "ecs.g7.xlarge", OSType: "windows"})
	}
	return f
}

func sum256(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// encodeFleet writes a fixture one object a line, so that diffs stay small.
func encodeFleet(f *emulator.Fixture) []byte {
	return encodeLines("Regions", f.Regions, f.KeyPairs, f.Instances)
}

// encodeLines writes a fixture's list of regions under regionsKey, then its key pairs
// and its instances, one object a line.
func encodeLines[K, I any](regionsKey string, regions []string, keyPairs []K, instances []I) []byte {
	var b bytes.Buffer
	line := func(v any, last bool) {
		j, _ := json.Marshal(v)
		b.Write(j)
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	r, _ := json.Marshal(regions)
	fmt.Fprintf(&b, "{\n%q: %s,\n\"KeyPairs\": [\n", regionsKey, r)
	for i, kp := range keyPairs {
		line(kp, i == len(keyPairs)-1)
	}
	b.WriteString("],\n\"Instances\": [\n")
	for i, in := range instances {
		line(in, i == len(instances)-1)
	}
	b.WriteString("]\n}\n")
	return b.Bytes()
}

// checkFleetFile compares a fleet file with its source, rewriting it with -update.
func checkFleetFile(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what its builder makes; run go test ./emulator -run TestFleetFixture -update", path)
	}
}

func TestFleetFixture(t *testing.T) {
	checkFleetFile(t, "testdata/fleet.json", encodeFleet(buildFleet()))
	if !reflect.DeepEqual(emulator.DefaultFixture(), buildFleet()) {
		t.Fatal("DefaultFixture differs from buildFleet")
	}
	ens := buildENSFleet()
	checkFleetFile(t, "ens/testdata/fleet.json", encodeLines("EnsRegions", ens.EnsRegions, ens.KeyPairs, ens.Instances))
	if !reflect.DeepEqual(emulator.DefaultENSFixture(), ens) {
		t.Fatal("DefaultENSFixture differs from buildENSFleet")
	}
}

// buildENSFleet is the source of ens/testdata/fleet.json (rewritten with -update, as
// testdata/fleet.json): edge regions, key pairs with ids, instances in every status.
// Samples and tests use this fleet: change it only by adding.
func buildENSFleet() *emulator.ENSFixture {
	f := &emulator.ENSFixture{EnsRegions: []string{"cn-beijing-cmcc", "cn-hangzhou-telecom", "cn-chengdu-telecom-4", "cn-dalian-unicom", "cn-tianjin-cmcc"}}
	for i, name := range []string{"edge-ops-2026", "edge-deploy", "edge-fleet", "edge-legacy"} {
		id := fmt.Sprintf("ssh-5lywanlkih1zo9yl8eg%04d", i+1)
		f.KeyPairs = append(f.KeyPairs, emulator.ENSKeyPair{KeyPairId: id, KeyPairName: name, FingerPrint: fmt.Sprintf("%x", md5.Sum([]byte(id))),
			CreationTime: fmt.Sprintf("2026-01-%02dT08:00:00Z", 5+i)})
	}
	in := func(n int, name, region, status, keyPair string, tags ...emulator.Tag) {
		f.Instances = append(f.Instances, emulator.ENSInstance{InstanceId: ensID(n), InstanceName: name, EnsRegionId: region,
			Status: status, KeyPairName: keyPair, Tags: tags})
	}
	env := func(v string) emulator.Tag { return emulator.Tag{Key: "env", Value: v} }
	for n := 1; n <= 6; n++ {
		in(n, fmt.Sprintf("video-staging-%02d", n), "cn-beijing-cmcc", emulator.StatusStopped, "edge-ops-2026", env("staging"), emulator.Tag{Key: "team", Value: "video"})
	}
	in(7, "video-staging-07", "cn-beijing-cmcc", emulator.StatusRunning, "edge-ops-2026", env("staging"))
	in(8, "video-staging-08", "cn-hangzhou-telecom", emulator.StatusStarting, "edge-ops-2026", env("staging"))
	in(9, "video-staging-09", "cn-hangzhou-telecom", emulator.StatusStopping, "edge-ops-2026", env("staging"))
	in(10, "video-staging-10", "cn-hangzhou-telecom", emulator.StatusExpired, "edge-ops-2026", env("staging"))
	for n := 11; n <= 13; n++ {
		in(n, fmt.Sprintf("ci-edge-prod-%02d", n-10), "cn-chengdu-telecom-4", emulator.StatusStopped, "edge-deploy", env("prod"))
	}
	for n := 14; n <= 15; n++ {
		in(n, fmt.Sprintf("sandbox-edge-dev-%02d", n-13), "cn-dalian-unicom", emulator.StatusStopped, "", env("dev"))
	}
	for n := 16; n <= 265; n++ { // every 10th Running; odd ones in Hangzhou, even ones in Chengdu
		region, status := "cn-hangzhou-telecom", emulator.StatusStopped
		if n%2 == 0 {
			region = "cn-chengdu-telecom-4"
		}
		if n%10 == 0 {
			status = emulator.StatusRunning
		}
		in(n, fmt.Sprintf("cdn-edge-%04d", n-15), region, status, "edge-fleet", env("prod"), emulator.Tag{Key: "team", Value: "cdn"})
	}
	// Protected by the function's default PROTECTED_TAG: never touched.
	in(266, "video-staging-protected", "cn-beijing-cmcc", emulator.StatusStopped, "edge-ops-2026", env("staging"),
		emulator.Tag{Key: "detach-keypair:protected", Value: "true"})
	return f
}

// TestFleetContract pins the parts of the fleet that other packages rely on.
func TestFleetContract(t *testing.T) {
	f := emulator.DefaultFixture()
	if got := strings.Join(f.Regions, ","); got != "cn-hangzhou,cn-shanghai,ap-southeast-1" {
		t.Errorf("regions = %s", got)
	}
	ids := map[string]string{}
	for _, kp := range f.KeyPairs {
		ids[kp.RegionId+"/"+kp.KeyPairName] = kp.KeyPairId
	}
	for key, id := range map[string]string{
		"cn-hangzhou/ops-2026": "ssh-bp67acfmxazb4p0001", "cn-hangzhou/deploy-ci": "ssh-bp67acfmxazb4p0002",
		"cn-hangzhou/ops-2026-backup": "ssh-bp67acfmxazb4p0003", "cn-hangzhou/fleet-2026": "ssh-bp67acfmxazb4p0004",
		"cn-hangzhou/legacy-admin": "ssh-bp67acfmxazb4p0005", "cn-shanghai/ops-2026": "ssh-uf6bkqbwbwwj8p0001",
	} {
		if ids[key] != id {
			t.Errorf("key pair %s has id %q, want %q", key, ids[key], id)
		}
	}
	byID := map[string]emulator.Instance{}
	for _, in := range f.Instances {
		byID[in.InstanceId] = in
	}
	check := func(from, to int, status, keyPair, group string, tags ...emulator.Tag) {
		t.Helper()
		for n := from; n <= to; n++ {
			id := fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n)
			in, ok := byID[id]
			if !ok {
				t.Fatalf("%s is missing", id)
			}
			wantStatus := status
			if status == "" { // the big fleet: every 10th is Running
				wantStatus = map[bool]string{true: "Running", false: "Stopped"}[n%10 == 0]
				tags = []emulator.Tag{{Key: "env", Value: map[bool]string{true: "prod", false: "dev"}[n%2 == 1]}}
			}
			if in.Status != wantStatus || in.KeyPairName != keyPair || in.RegionId != "cn-hangzhou" || (group != "" && in.ResourceGroupId != group) {
				t.Errorf("%s = %+v", id, in)
			}
			for _, tag := range tags {
				if !containsTag(in.Tags, tag) {
					t.Errorf("%s lacks tag %v", id, tag)
				}
			}
		}
	}
	check(1, 10, "Stopped", "ops-2026", "rg-acfmzstaging001", emulator.Tag{Key: "env", Value: "staging"}, emulator.Tag{Key: "team", Value: "payments"})
	check(11, 15, "Running", "ops-2026", "rg-acfmzstaging001", emulator.Tag{Key: "env", Value: "staging"})
	check(16, 20, "Stopped", "deploy-ci", "rg-acfmzprod00001", emulator.Tag{Key: "env", Value: "prod"})
	check(21, 25, "Stopped", "", "", emulator.Tag{Key: "env", Value: "dev"})
	check(26, 30, "Stopped", "ops-2026-backup", "", emulator.Tag{Key: "env", Value: "dev"})
	check(31, 1230, "", "fleet-2026", "rg-acfmzprod00001")
	shanghai := 0
	for _, in := range f.Instances {
		if in.RegionId == "cn-shanghai" {
			shanghai++
			if !strings.HasPrefix(in.InstanceId, "i-uf6") || in.Status != "Stopped" || in.KeyPairName != "ops-2026" {
				t.Errorf("shanghai instance %+v", in)
			}
		}
	}
	if shanghai == 0 {
		t.Error("no cn-shanghai instances")
	}
	// A fresh copy each call.
	f.Instances[0].KeyPairName = "changed"
	if emulator.DefaultFixture().Instances[0].KeyPairName != "ops-2026" {
		t.Error("DefaultFixture returned shared state")
	}
}

func containsTag(tags []emulator.Tag, t emulator.Tag) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}
