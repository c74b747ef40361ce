package detach

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Request is what a caller asks the function to do: detach one key pair, named by id
// or by name, from a list of instances (or from the instances a selector finds).
type Request struct {
	Product     string   `json:"Product,omitempty"` // ProductECS or ProductENS; see ForProduct
	RegionId    string   `json:"RegionId,omitempty" validate:"omitempty,regionid"`
	KeyPairId   string   `json:"KeyPairId,omitempty" validate:"required_without=KeyPairName,omitempty,keypairid"`
	KeyPairName string   `json:"KeyPairName,omitempty" validate:"omitempty,keypairname"`
	InstanceIds []string `json:"InstanceIds,omitempty" validate:"required_without=Targets,excluded_with=Targets,omitempty,min=1,unique,dive,instanceid"`
	Targets     *Targets `json:"Targets,omitempty" validate:"omitempty"`
	DryRun      bool     `json:"DryRun,omitempty"`
	// RegionIds names the regions of a fleet run, or ["*"] for every region of the
	// account (fleet_request.go); ECS only, with Targets.
	RegionIds []string `json:"RegionIds,omitempty"`
	// Continuation is set in the request that one part of a fleet run hands the next
	// (fleet_request.go); callers leave it out.
	Continuation *Continuation `json:"Continuation,omitempty"`
}

// Targets selects instances instead of listing them: the instances of the region that
// are bound to the key pair and carry every tag given and the resource group, if given
// (ECS), or that are in one of the edge regions, if given (ENS).
type Targets struct {
	Tags            []Tag    `json:"Tags,omitempty" validate:"max=20,dive"` // DescribeInstances takes Tag.1 to Tag.20
	ResourceGroupId string   `json:"ResourceGroupId,omitempty" validate:"omitempty,resourcegroupid"`
	EnsRegionIds    []string `json:"EnsRegionIds,omitempty" validate:"max=100,dive,ensregionid"` // ENS only
}

// Tag is one tag a selected instance must carry.
type Tag struct {
	Key   string `json:"Key" validate:"required,max=128"`
	Value string `json:"Value" validate:"max=128"`
}

var (
	regionIDPattern      = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	instanceIDPattern    = regexp.MustCompile(`^i-[a-z0-9]{1,62}$`)
	keyPairIDPattern     = regexp.MustCompile(`^ssh-[a-z0-9]{1,60}$`)
	keyPairNamePattern   = regexp.MustCompile(`^[A-Za-z\p{Han}][A-Za-z0-9\p{Han}:_.-]{1,127}$`)
	resourceGroupPattern = regexp.MustCompile(`^rg-[a-z0-9]{1,60}$`)
)

// ValidRegionID reports whether s looks like a region id such as cn-hangzhou.
func ValidRegionID(s string) bool { return regionIDPattern.MatchString(s) }

// ValidKeyPairID reports whether s looks like a key pair id such as ssh-bp67acfmxazb4p****.
func ValidKeyPairID(s string) bool { return keyPairIDPattern.MatchString(s) }

// ValidKeyPairName reports whether s is a valid key pair name.
func ValidKeyPairName(s string) bool { return keyPairNamePattern.MatchString(s) }

// validate is the request validator: validator/v10 with the id formats of ECS registered.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	for tag, re := range map[string]*regexp.Regexp{
		"regionid":        regionIDPattern,
		"instanceid":      instanceIDPattern,
		"keypairid":       keyPairIDPattern,
		"keypairname":     keyPairNamePattern,
		"resourcegroupid": resourceGroupPattern,
		"ensregionid":     regionIDPattern, // cn-beijing-cmcc, cn-chengdu-telecom-4
	} {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
			return re.MatchString(fl.Field().String())
		}); err != nil {
			panic(err)
		}
	}
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}

// ParseRequest decodes a request from JSON and validates it. Field names match exactly
// (no case folding), unknown and repeated fields are rejected, and the first problem
// found is returned as an InvalidParameter.<Field> error. maxInstances caps InstanceIds.
func ParseRequest(data []byte, maxInstances int) (Request, *Error) {
	var req Request
	var targets, continuation json.RawMessage
	err := decodeObject(data, map[string]any{
		"Product":      &req.Product,
		"RegionId":     &req.RegionId,
		"KeyPairId":    &req.KeyPairId,
		"KeyPairName":  &req.KeyPairName,
		"InstanceIds":  &req.InstanceIds,
		"Targets":      &targets,
		"DryRun":       &req.DryRun,
		"RegionIds":    &req.RegionIds,
		"Continuation": &continuation,
	})
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return req, invalidParameter(fe.field, fe.detail)
		}
		return req, invalidParameter("Body", "the request must be a JSON object: "+err.Error())
	}
	if len(targets) > 0 {
		req.Targets = &Targets{}
		if err := decodeTargets(targets, req.Targets); err != nil {
			return req, err
		}
	}
	if len(continuation) > 0 {
		if req.Continuation, err = decodeContinuation(continuation); err != nil {
			return req, invalidParameter("Continuation", err.Error())
		}
	}
	return req, req.Validate(maxInstances)
}

// decodeTargets decodes the Targets object strictly, so that a typo inside it is
// rejected like one at the top level.
func decodeTargets(raw json.RawMessage, t *Targets) *Error {
	var rawTags []json.RawMessage
	if err := decodeObject(raw, map[string]any{"Tags": &rawTags, "ResourceGroupId": &t.ResourceGroupId, "EnsRegionIds": &t.EnsRegionIds}); err != nil {
		return invalidParameter("Targets", nestedDetail("Targets", err))
	}
	for i, rt := range rawTags {
		var tag Tag
		if err := decodeObject(rt, map[string]any{"Key": &tag.Key, "Value": &tag.Value}); err != nil {
			return invalidParameter("Targets", nestedDetail(fmt.Sprintf("Targets.Tags[%d]", i), err))
		}
		t.Tags = append(t.Tags, tag)
	}
	return nil
}

func nestedDetail(path string, err error) string {
	var fe *fieldError
	if errors.As(err, &fe) {
		return path + "." + fe.field + ": " + fe.detail
	}
	return path + " must be a JSON object"
}

// Validate checks the rules of the contract that do not depend on the cloud. It returns
// the first problem as an InvalidParameter.<Field> error, or nil.
func (r *Request) Validate(maxInstances int) *Error {
	if err := validate.Struct(r); err != nil {
		var verrs validator.ValidationErrors
		if errors.As(err, &verrs) && len(verrs) > 0 {
			return fromValidation(r, verrs[0])
		}
		return invalidParameter("Body", err.Error())
	}
	if maxInstances > 0 && len(r.InstanceIds) > maxInstances {
		return invalidParameter("InstanceIds", fmt.Sprintf("%d ids given, at most %d are allowed", len(r.InstanceIds), maxInstances))
	}
	return r.validateFleet(maxInstances)
}

// fromValidation turns a validator failure into the contract's error, naming the
// top-level request field and saying what is wrong in words.
func fromValidation(r *Request, fe validator.FieldError) *Error {
	ns := fe.Namespace() // e.g. Request.InstanceIds[3] or Request.Targets.Tags[0].Key
	path := ns[strings.IndexByte(ns, '.')+1:]
	field := path
	if i := strings.IndexAny(field, ".["); i >= 0 {
		field = field[:i]
	}
	value := Echo(fmt.Sprint(fe.Value()))
	var detail string
	switch fe.Tag() {
	case "required_without":
		if field == "InstanceIds" {
			detail = "give InstanceIds or Targets"
		} else {
			detail = "give KeyPairId or KeyPairName"
		}
	case "excluded_with":
		detail = "give InstanceIds or Targets, not both"
	case "required":
		detail = path + " must not be empty"
	case "min":
		detail = path + " must list at least one instance id"
	case "max":
		detail = fmt.Sprintf("%s: at most %s allowed", path, fe.Param())
	case "unique":
		detail = "duplicate id " + firstDuplicate(r.InstanceIds)
	case "instanceid":
		detail = fmt.Sprintf("%s %s is not an instance id (i- followed by lower-case letters and digits)", path, value)
	case "regionid":
		detail = fmt.Sprintf("%s is not a region id such as cn-hangzhou", value)
	case "keypairid":
		detail = fmt.Sprintf("%s is not a key pair id such as ssh-bp67acfmxazb4p****", value)
	case "keypairname":
		detail = fmt.Sprintf("%s is not a key pair name (2 to 128 characters: letters, digits, ':', '_', '.', '-', starting with a letter)", value)
	case "ensregionid":
		detail = fmt.Sprintf("%s %s is not an ENS edge region id such as cn-beijing-cmcc", path, value)
	case "resourcegroupid":
		detail = fmt.Sprintf("%s %s is not a resource group id such as rg-acfm****", path, value)
	default:
		detail = fmt.Sprintf("%s fails %s", path, fe.Tag())
	}
	return invalidParameter(field, detail)
}

func firstDuplicate(ids []string) string {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

// fieldError is a decoding problem tied to one named field.
type fieldError struct{ field, detail string }

func (e *fieldError) Error() string { return e.field + ": " + e.detail }

// decodeObject decodes a JSON object into the given fields, matching names exactly.
// A name not in fields, or given twice, is an error naming it; so is a value of the
// wrong type. Anything but one JSON object is a plain error.
func decodeObject(data []byte, fields map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return errors.New("not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("not valid JSON")
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errors.New("not valid JSON")
		}
		target, known := fields[name]
		switch {
		case !known:
			return &fieldError{printable(name), "unknown field " + Echo(name) + knownFields(fields)}
		case seen[name]:
			return &fieldError{name, "given more than once"}
		case bytes.Equal(raw, []byte("null")):
			// null would leave the field's zero value: DryRun false, that is, for real
			return &fieldError{name, "must not be null: give a value, or leave the field out"}
		}
		seen[name] = true
		if err := json.Unmarshal(raw, target); err != nil {
			return &fieldError{name, "must be " + describeType(reflect.TypeOf(target).Elem())}
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the object")
	}
	return nil
}

func knownFields(fields map[string]any) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return " (known fields: " + strings.Join(names, ", ") + ")"
}

// printable keeps a field name usable inside an error code: letters, digits, '_' and
// '.', at most 64 characters; anything else makes it "Body".
func printable(name string) string {
	if name == "" || len(name) > 64 {
		return "Body"
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "Body"
		}
	}
	return name
}

// Clip cuts a value the caller sent to about a hundred bytes (at a character
// boundary, the rest counted), for a log attribute; Echo is its form for messages.
func Clip(s string) string {
	if len(s) <= echoLimit {
		return s
	}
	cut := echoLimit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", s[:cut], len(s))
}

// echoLimit is about how many characters of a caller's value a message echoes.
const echoLimit = 100

// Echo quotes a value the caller sent, for a message that answers, logs or emits it:
// control characters escaped, and cut after about a hundred characters (the rest is
// counted, not shown), so that no input makes a message large.
func Echo(s string) string {
	if q := strconv.Quote(s); len(q) <= echoLimit+2 {
		return q
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		q := strconv.Quote(string(r))
		if b.Len()+len(q)-2 > echoLimit {
			fmt.Fprintf(&b, `"… (%d bytes in all)`, len(s))
			return b.String()
		}
		b.WriteString(q[1 : len(q)-1])
	}
	b.WriteByte('"')
	return b.String()
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Pointer, reflect.Struct:
		return "an object"
	}
	return "of type " + t.String()
}
