package aliyun

import (
	"errors"
	"testing"

	"detachkeypair/detach"
)

func TestErrorCodeIn(t *testing.T) {
	known := []string{"IncorrectInstanceStatus", "InstanceNotFound"}
	for _, tc := range []struct{ message, want string }{
		{"IncorrectInstanceStatus", "IncorrectInstanceStatus"},
		{"InvalidKeyPairName.NotFound", "InvalidKeyPairName.NotFound"},
		{"successful", ""},
		{"IncorrectInstanceStatus: The instance is Running", "IncorrectInstanceStatus"},
		{"the instance was not found: InstanceNotFound", "InstanceNotFound"},
		{"something else went wrong", ""},
		{"", ""},
	} {
		if got := ErrorCodeIn(tc.message, known); got != tc.want {
			t.Errorf("ErrorCodeIn(%q) = %q, want %q", tc.message, got, tc.want)
		}
	}
}

func TestFullPage(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		got, total, page, size int
		hollow                 bool
	}{
		{"full first page", 50, 120, 1, 50, false},
		{"full last page", 20, 120, 3, 50, false},
		{"empty past the end", 0, 120, 4, 50, false},
		{"nothing at all", 0, 0, 1, 50, false},
		{"short first page", 49, 120, 1, 50, true},
		{"short last page", 19, 120, 3, 50, true},
		{"empty page with a count", 0, 3, 1, 50, true},
	} {
		err := FullPage("DescribeInstances", tc.got, tc.total, tc.page, tc.size)
		var ce *detach.CloudError
		switch {
		case !tc.hollow && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.hollow && (!errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse):
			t.Errorf("%s: %v, want an InvalidResponse", tc.name, err)
		}
	}
}
