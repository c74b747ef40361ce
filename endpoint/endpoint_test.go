package endpoint

import "testing"

func TestParse(t *testing.T) {
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
		host, proto, err := Parse(in)
		got := host + " " + proto
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}
