package aliyun

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	in := `Post "http://127.0.0.1:8300/?AccessKeyId=STS.x&Signature=abc%3D&SecurityToken=CAIStoken": EOF; authorization: acs3 sig; x-acs-security-token=CAIS2; string to sign is:POST&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3DCAIS3%26Signature%3Dsig4`
	out := Redact(in)
	for _, secret := range []string{"abc%3D", "CAIStoken", "CAIS2", "acs3 sig", "CAIS3", "sig4"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q still in %q", secret, out)
		}
	}
	if !strings.Contains(out, "http://127.0.0.1:8300/") || !strings.Contains(out, "EOF") {
		t.Errorf("redacted too much: %q", out)
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8300":        "127.0.0.1:8300 http",
		"https://ecs.aliyuncs.com/":    "ecs.aliyuncs.com https",
		"ecs-cn-hangzhou.aliyuncs.com": "ecs-cn-hangzhou.aliyuncs.com https",
		"ftp://x":                      "error",
		"http://h/path":                "error",
		"http://user:pw@h":             "error",
		"":                             "error",
		"host/with/path":               "error",
	} {
		host, proto, err := ParseEndpoint(in)
		got := host + " " + proto
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
