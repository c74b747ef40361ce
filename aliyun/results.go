package aliyun

import (
	"regexp"
	"strings"
)

var codeShape = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$`)

// ErrorCodeIn finds the error code in the message of one instance's result of a batch
// API (DetachKeyPair): the message itself when it is shaped like a code, else the first
// of known that it mentions; "" when there is none. ECS and ENS give per-instance
// results a message but no code field.
func ErrorCodeIn(message string, known []string) string {
	if codeShape.MatchString(message) && message != "successful" {
		return message
	}
	for _, c := range known {
		if strings.Contains(message, c) {
			return c
		}
	}
	return ""
}
