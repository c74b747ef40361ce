package detach

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// regionCloud is one region of a fake ECS for fleet runs: its instances in a fixed
// order, listed with NextTokens that are offsets into the current listing (the harsh
// case ECS does not rule out), which it refuses when refuse says so.
type regionCloud struct {
	region    string
	mu        sync.Mutex
	ids       []string // listing order
	in        map[string]*Instance
	calls     map[string]int
	refuse    func(token string) bool // refuse a token given back (nil: never)
	noKeyPair bool                    // the region has no key pair
	gaps      func(token string) int  // empty pages, each with a token, before the page at token (nil: none)
}

func newRegionCloud(region string, n int, shape func(i int, in *Instance)) *regionCloud {
	c := &regionCloud{region: region, in: map[string]*Instance{}, calls: map[string]int{}}
	for i := range n {
		in := &Instance{ID: fmt.Sprintf("i-%s%05d", strings.ReplaceAll(region, "-", ""), i), Status: StatusStopped, KeyPairName: "kp", Tags: []Tag{{Key: "env", Value: "x"}}}
		if shape != nil {
			shape(i, in)
		}
		c.ids = append(c.ids, in.ID)
		c.in[in.ID] = in
	}
	return c
}

func (c *regionCloud) Limits() Limits {
	return Limits{Product: ProductECS, Region: c.region, KeyPairPage: 50, DescribeIDs: 100, Batch: 50, InstanceTags: true}
}

func (c *regionCloud) DescribeKeyPairs(context.Context, KeyPairQuery) (KeyPairPage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[APIDescribeKeyPairs]++
	if c.noKeyPair {
		return KeyPairPage{}, nil
	}
	return KeyPairPage{KeyPairs: []KeyPair{{Name: "kp"}}, TotalCount: 1}, nil
}

func (c *regionCloud) DescribeInstances(_ context.Context, q InstanceQuery) (InstancePage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[APIDescribeInstances]++
	var page InstancePage
	if len(q.IDs) > 0 {
		for _, id := range q.IDs {
			if in, ok := c.in[id]; ok {
				page.Instances = append(page.Instances, *in)
			}
		}
		return page, nil
	}
	if c.gaps != nil {
		gap, at := 0, q.NextToken
		for ; strings.HasPrefix(at, "gap:"); gap++ {
			at = strings.TrimPrefix(at, "gap:")
		}
		if gap < c.gaps(at) {
			return InstancePage{NextToken: "gap:" + q.NextToken}, nil
		}
		q.NextToken = at
	}
	var match []string
	for _, id := range c.ids {
		if q.KeyPairName == "" || c.in[id].KeyPairName == q.KeyPairName {
			match = append(match, id)
		}
	}
	from := 0
	if q.NextToken != "" {
		if c.refuse != nil && c.refuse(q.NextToken) {
			return page, &CloudError{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: "NextToken expired"}
		}
		from, _ = strconv.Atoi(q.NextToken)
	}
	to := min(from+q.PageSize, len(match))
	for _, id := range match[min(from, to):to] {
		page.Instances = append(page.Instances, *c.in[id])
	}
	if to < len(match) {
		page.NextToken = strconv.Itoa(to)
	}
	return page, nil
}

func (c *regionCloud) DetachKeyPair(_ context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[APIDetachKeyPair]++
	out := make([]Outcome, len(ids))
	for i, id := range ids {
		in := c.in[id]
		if in.KeyPairName != kp.Name {
			out[i] = Outcome{InstanceID: id, Code: 400, ErrorCode: CodeNotAttached}
			continue
		}
		in.KeyPairName = ""
		out[i] = Outcome{InstanceID: id, Code: 200, Success: true}
	}
	return out, nil
}

func (c *regionCloud) DescribeRegions(context.Context) ([]string, error) {
	return []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"}, nil
}

// fcQueue is a fake FC: it takes each task id once, and keeps the tasks to run.
type fcQueue struct {
	mu    sync.Mutex
	seen  map[string]bool
	tasks []fcTask
	fail  int // refuse so many calls first, with a 503
}

type fcTask struct {
	id      string
	payload []byte
}

func (q *fcQueue) InvokeAsync(_ context.Context, id string, payload []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail > 0 {
		q.fail--
		return &CloudError{Status: 503, Code: "ServiceUnavailable", Message: "FC is down"}
	}
	if q.seen[id] {
		return ErrTaskExists
	}
	if q.seen == nil {
		q.seen = map[string]bool{}
	}
	q.seen[id] = true
	q.tasks = append(q.tasks, fcTask{id, payload})
	return nil
}

func (q *fcQueue) pop() (fcTask, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.tasks) == 0 {
		return fcTask{}, false
	}
	t := q.tasks[0]
	q.tasks = q.tasks[1:]
	return t, true
}

// fleetRig runs fleet runs over fake regions and a fake FC, in process.
type fleetRig struct {
	t      *testing.T
	fleet  *Fleet
	clouds map[string]*regionCloud
	fc     *fcQueue
	max    int
}

func newRig(t *testing.T, max, maxParts int, clouds ...*regionCloud) *fleetRig {
	r := &fleetRig{t: t, fleet: NewFleet(NewService(Options{MaxInstances: max, Concurrency: 2}), FleetOptions{MaxParts: maxParts}),
		clouds: map[string]*regionCloud{}, fc: &fcQueue{}, max: max}
	for _, c := range clouds {
		r.clouds[c.region] = c
	}
	return r
}

func (r *fleetRig) env() FleetEnv {
	return FleetEnv{Home: "cn-hangzhou",
		Cloud: func(region string) (Cloud, error) {
			if c, ok := r.clouds[region]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("no region %s", region)
		},
		Invoker: func() (Invoker, error) { return r.fc, nil }}
}

// run runs a request as an invocation would (retry: its retry count).
func (r *fleetRig) run(raw []byte, retry int) (*Part, *Error) {
	r.t.Helper()
	req, err := ParseRequest(raw, r.max)
	if err == nil {
		err = req.ForProduct(ProductECS)
	}
	if err != nil {
		return nil, err
	}
	if req.RegionId == "" && req.RegionIds == nil {
		req.RegionId = "cn-hangzhou"
	}
	ctx := WithRetryCount(WithRequestID(context.Background(), "1-req"), retry)
	return r.fleet.Run(ctx, r.env(), req)
}

// drain runs every queued part, again while it asks to be (as FC retries a failed
// invocation, 3 times), and returns every part's last answer.
func (r *fleetRig) drain() []*Part {
	r.t.Helper()
	var parts []*Part
	for {
		tk, ok := r.fc.pop()
		if !ok {
			return parts
		}
		var p *Part
		for retry := 0; retry <= 3 && (p == nil || p.Retry()); retry++ {
			var err *Error
			if p, err = r.run(tk.payload, retry); err != nil {
				r.t.Fatalf("task %s: %v", tk.id, err)
			}
		}
		parts = append(parts, p)
	}
}

// chain runs a request for the instances of c tagged as targets says, and every part
// it starts, and checks that every instance bound before (bound) was reported once.
func (r *fleetRig) chain(c *regionCloud, bound map[string]bool) []*Part {
	r.t.Helper()
	first, err := r.run([]byte(`{"KeyPairName":"kp",`+targets+`}`), 0)
	if err != nil {
		r.t.Fatal(err)
	}
	parts := append([]*Part{first}, r.drain()...)
	checkOnce(r.t, c, bound, reported(parts))
	return parts
}

// reported returns how often each instance was reported over parts, by region.
func reported(parts []*Part) map[string]int {
	n := map[string]int{}
	for _, p := range parts {
		for _, x := range p.Results {
			n[x.InstanceId]++
		}
	}
	return n
}

// checkOnce checks that every bound instance of c was reported exactly once, and the
// Stopped ones detached.
func checkOnce(t *testing.T, c *regionCloud, bound map[string]bool, counts map[string]int) {
	t.Helper()
	for _, id := range c.ids {
		switch {
		case bound[id] && counts[id] != 1:
			t.Errorf("%s reported %d times", id, counts[id])
		case !bound[id] && counts[id] != 0:
			t.Errorf("%s, not bound, reported %d times", id, counts[id])
		case bound[id] && c.in[id].Status == StatusStopped && c.in[id].KeyPairName != "":
			t.Errorf("%s still bound", id)
		}
	}
}

func boundIn(c *regionCloud) map[string]bool {
	m := map[string]bool{}
	for id, in := range c.in {
		m[id] = in.KeyPairName == "kp"
	}
	return m
}

const targets = `"Targets":{"Tags":[{"Key":"env","Value":"x"}]}`

// TestFleetChain: a run in one region goes on part after part, each MaxInstances
// instances, every bound instance reported once (Running ones refused), each part's
// totals running, the last Final; the listing never filters by key pair, so offset
// tokens (the harsh case) lose nothing while earlier parts detach.
func TestFleetChain(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 95, func(i int, in *Instance) {
		switch {
		case i%7 == 0:
			in.KeyPairName = ""
		case i%5 == 0:
			in.Status = "Running"
		}
	})
	bound := boundIn(c)
	r := newRig(t, 10, 100, c)
	parts := r.chain(c, bound)
	for i, p := range parts {
		if p.Part != i+1 || p.Final != (i == len(parts)-1) || p.Continues == p.Final || p.Totals.Parts != i+1 || len(p.Results) > 10 {
			t.Errorf("part %d: %+v", i+1, p)
		}
	}
	last := parts[len(parts)-1].Totals
	if last.TotalCount != 81 || last.Codes[CodeIncorrectStatus] != 16 || last.Codes[CodeSuccess] != 65 {
		t.Errorf("final totals %+v", last)
	}
	if c.calls[APIDescribeKeyPairs] != 1 {
		t.Errorf("%d DescribeKeyPairs calls: the parts after the first resolve nothing", c.calls[APIDescribeKeyPairs])
	}
}

// TestFleetChecksTags: the listing keeps only the instances that carry the selector's
// tags by their own tags, also when the cloud's filter lets others through (this fake
// ignores it): those keep their key pair and are never reported.
func TestFleetChecksTags(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 45, func(i int, in *Instance) {
		switch i % 3 {
		case 1:
			in.Tags = []Tag{{Key: "env", Value: "y"}}
		case 2:
			in.Tags = nil
		}
	})
	bound := map[string]bool{}
	for id, in := range c.in {
		bound[id] = carriesAll(in.Tags, []Tag{{Key: "env", Value: "x"}})
	}
	r := newRig(t, 10, 100, c)
	parts := r.chain(c, bound)
	if last := parts[len(parts)-1]; !last.Final || last.Totals.TotalCount != 15 {
		t.Errorf("last part %+v, want Final with 15 instances", last)
	}
	for id, in := range c.in {
		if !bound[id] && in.KeyPairName != "kp" {
			t.Errorf("%s (tags %v) lost its key pair", id, in.Tags)
		}
	}
}

// TestFleetTokenRefused: when the cloud refuses the token a part carried (expired),
// the part lists from the start and skips to the place the previous listing reached;
// nothing is reported twice or missed.
func TestFleetTokenRefused(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 57, func(i int, in *Instance) {
		if i%4 == 0 {
			in.Status = "Running"
		}
	})
	bound := boundIn(c)
	given := map[string]bool{}
	c.refuse = func(tok string) bool { // a token handed on to another part is refused
		if given[tok] {
			return true
		}
		given[tok] = true
		return false
	}
	r := newRig(t, 10, 100, c)
	parts := r.chain(c, bound)
	if !parts[len(parts)-1].Final || parts[len(parts)-1].Totals.TotalCount != 57 {
		t.Errorf("last part %+v", parts[len(parts)-1])
	}
}

// TestFleetTokensRefusedMidway: tokens refused within a listing too, also while it
// skips to its place after a restart: the listing starts again, keeping the place it
// was skipping to; nothing is reported twice or missed.
func TestFleetTokensRefusedMidway(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 230, func(i int, in *Instance) {
		if i%3 == 0 {
			in.Status = "Running"
		}
	})
	bound := boundIn(c)
	rng := rand.New(rand.NewPCG(1, 2))
	c.refuse = func(string) bool { return rng.IntN(4) == 0 } // a quarter of the tokens
	r := newRig(t, 15, 100, c)
	parts := r.chain(c, bound)
	if last := parts[len(parts)-1]; !last.Final || last.Totals.TotalCount != 230 {
		t.Errorf("last part %+v", last)
	}
}

// TestFleetPartRetried: a part that FC runs again (its next part already started)
// reports its instances again, the ones it detached as detached, and does not start
// its next part twice.
func TestFleetPartRetried(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 25, nil)
	r := newRig(t, 10, 100, c)
	if _, err := r.run([]byte(`{"KeyPairName":"kp",`+targets+`}`), 0); err != nil {
		t.Fatal(err)
	}
	tk, _ := r.fc.pop()
	p, err := r.run(tk.payload, 0)
	if err != nil || len(p.Results) != 10 || !p.Continues {
		t.Fatalf("part 2: %+v %v", p, err)
	}
	again, err := r.run(tk.payload, 1) // FC runs part 2 again
	if err != nil || len(again.Results) != 10 || again.FailCount != 0 || !again.Continues || again.Attempt != 1 {
		t.Fatalf("part 2 again: %+v %v", again, err)
	}
	for _, x := range again.Results {
		if !strings.Contains(x.Message, "already detached") {
			t.Errorf("%s: %s", x.InstanceId, x.Message)
		}
	}
	if len(r.fc.tasks) != 1 {
		t.Errorf("%d tasks queued, want part 3 once", len(r.fc.tasks))
	}
	if fmt.Sprint(again.Totals) != fmt.Sprint(p.Totals) {
		t.Errorf("totals %+v again, %+v the first time", again.Totals, p.Totals)
	}
}

// TestFleetFirstPartRetried: the first part of another region has its window in its
// request (listed by the first invocation), so that FC running it again, after an
// attempt that detached some instances and died, reports those too.
func TestFleetFirstPartRetried(t *testing.T) {
	hz, sh := newRegionCloud("cn-hangzhou", 3, nil), newRegionCloud("cn-shanghai", 8, nil)
	r := newRig(t, 10, 100, hz, sh)
	if _, err := r.run([]byte(`{"KeyPairName":"kp","RegionIds":["cn-hangzhou","cn-shanghai"],`+targets+`}`), 0); err != nil {
		t.Fatal(err)
	}
	tk, ok := r.fc.pop()
	if !ok || !strings.Contains(string(tk.payload), sh.ids[7]) {
		t.Fatalf("the first part of cn-shanghai, with its window: %s", tk.payload)
	}
	for _, id := range sh.ids[:5] { // the attempt that died had detached these
		sh.in[id].KeyPairName = ""
	}
	p, err := r.run(tk.payload, 1)
	if err != nil || len(p.Results) != 8 || p.FailCount != 0 || !p.Final {
		t.Fatalf("part 1 again: %+v %v", p, err)
	}
	n := 0
	for _, x := range p.Results {
		if strings.Contains(x.Message, "already detached") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d instances reported already detached, want 5: %+v", n, p.Results)
	}
}

// TestFleetRegions: RegionIds are checked (by the request's rules, then against the
// account's regions); "*" is every region; a region without the key pair is reported
// so while the others run; no region with it is 404.
func TestFleetRegions(t *testing.T) {
	hz, sh := newRegionCloud("cn-hangzhou", 12, nil), newRegionCloud("cn-shanghai", 3, nil)
	bj := newRegionCloud("cn-beijing", 0, nil)
	bj.noKeyPair = true
	r := newRig(t, 10, 100, hz, sh, bj)
	for _, c := range []struct{ regions, code, says string }{
		{`["cn-nowhere"]`, "InvalidParameter.RegionIds", "no region cn-nowhere"},
		{`["*","cn-hangzhou"]`, "InvalidParameter.RegionIds", `"*" stands for every region`},
		{`["cn-hangzhou","cn-hangzhou"]`, "InvalidParameter.RegionIds", "named twice"},
		{`[]`, "InvalidParameter.RegionIds", "at least one region"},
		{`["Hangzhou"]`, "InvalidParameter.RegionIds", "not region ids"},
	} {
		_, err := r.run([]byte(`{"KeyPairName":"kp","RegionIds":`+c.regions+`,`+targets+`}`), 0)
		if err == nil || err.Code != c.code || !strings.Contains(err.Message, c.says) {
			t.Errorf("RegionIds %s: %v", c.regions, err)
		}
	}
	for _, raw := range []string{
		`{"KeyPairId":"ssh-kp1","RegionIds":["cn-hangzhou","cn-shanghai"],` + targets + `}`,
		`{"KeyPairName":"kp","RegionIds":["cn-hangzhou"],"RegionId":"cn-hangzhou",` + targets + `}`,
		`{"KeyPairName":"kp","RegionIds":["cn-hangzhou"],"InstanceIds":["i-1"]}`,
		`{"Product":"ENS","KeyPairName":"kp","RegionIds":["cn-hangzhou"],` + targets + `}`,
	} {
		if _, err := r.run([]byte(raw), 0); err == nil || err.Code != "InvalidParameter.RegionIds" {
			t.Errorf("%s: %v", raw, err)
		}
	}

	first, err := r.run([]byte(`{"KeyPairName":"kp","RegionIds":["*"],`+targets+`}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []RegionRun{{RegionId: "cn-hangzhou", Continues: true}, {RegionId: "cn-shanghai", Continues: true},
		{RegionId: "cn-beijing", Code: CodeKeyPairNotFound, Message: "no key pair with KeyPairName kp in region cn-beijing"}}
	if fmt.Sprint(first.Regions) != fmt.Sprint(want) || first.Region != "cn-hangzhou" {
		t.Errorf("regions %+v", first.Regions)
	}
	evs := first.Events(EventScope{Source: "s", AccountID: "1", RequestID: "1-req"}, 64<<10)
	if last := evs[len(evs)-1]; last.Type != EventFailed || last.Subject != "acs:ecs:cn-beijing:1:keypair/kp" || !strings.Contains(string(last.Data), `"Final":true`) {
		t.Errorf("the event of the region without the key pair: %s %s %s", last.Type, last.Subject, last.Data)
	}
	parts := append([]*Part{first}, r.drain()...)
	n := reported(parts)
	for _, c := range []*regionCloud{hz, sh} {
		for id, in := range c.in {
			if in.KeyPairName != "" || n[id] != 1 {
				t.Errorf("%s: bound to %q, reported %d times", id, in.KeyPairName, n[id])
			}
		}
	}
	if len(n) != 15 {
		t.Errorf("%d instances reported, want 15", len(n))
	}
	if _, err := r.run([]byte(`{"KeyPairName":"kp","RegionIds":["cn-beijing"],`+targets+`}`), 0); err == nil || err.Code != CodeKeyPairNotFound || err.Status != 404 {
		t.Errorf("no region with the key pair: %v", err)
	}
}

// TestFleetPartLimit: MAX_PARTS stops a region's run; its last part says so.
func TestFleetPartLimit(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 35, nil)
	r := newRig(t, 10, 2, c)
	first, err := r.run([]byte(`{"KeyPairName":"kp",`+targets+`}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := append([]*Part{first}, r.drain()...)
	last := parts[len(parts)-1]
	if len(parts) != 2 || !last.Final || last.Continues || last.Code != CodePartLimit || last.Totals.TotalCount != 20 {
		t.Errorf("%d parts, the last %+v", len(parts), last)
	}
}

// TestFleetContinuationFails: a part that cannot start the next one (FC unavailable
// past the retries) says so and asks to be run again (Retry), without losing its
// results; a run's start that cannot start another region's first part fails whole,
// before anything is detached.
func TestFleetContinuationFails(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 15, nil)
	r := newRig(t, 10, 100, c)
	r.fleet.svc.opts.Backoff, r.fleet.svc.opts.MaxBackoff = 1, 1
	r.fc.fail = 100
	p, err := r.run([]byte(`{"KeyPairName":"kp",`+targets+`}`), 0)
	if err != nil || !p.Retry() || p.Code != CodeContinuationFailed || p.Final || p.Continues || len(p.Results) != 10 || p.Status() != 503 {
		t.Errorf("%+v %v", p, err)
	}
	sh := newRegionCloud("cn-shanghai", 5, nil)
	r = newRig(t, 10, 100, newRegionCloud("cn-hangzhou", 5, nil), sh)
	r.fleet.svc.opts.Backoff, r.fleet.svc.opts.MaxBackoff = 1, 1
	r.fc.fail = 100
	if _, err := r.run([]byte(`{"KeyPairName":"kp","RegionIds":["cn-hangzhou","cn-shanghai"],`+targets+`}`), 0); err == nil || err.Status != 503 {
		t.Errorf("start: %v", err)
	}
	for _, c := range r.clouds {
		if c.calls[APIDetachKeyPair] != 0 {
			t.Errorf("%s: detached before the run could start", c.region)
		}
	}
}

// TestNewEventsSplit: a result too large for one event is split over events within
// the limit, each with the whole answer but a share of the results, in order.
func TestNewEventsSplit(t *testing.T) {
	res := &Result{KeyPairName: "ops-2026", TotalCount: 1000}
	for i := range 1000 {
		res.Results = append(res.Results, failed(fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", i), 400, CodeIncorrectStatus, "instance is Running; stop it first"))
	}
	scope := EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: "1", RequestID: "1-r"}
	evs := NewEvents(scope, res, nil, "", 64<<10)
	if len(evs) < 2 {
		t.Fatalf("%d events", len(evs))
	}
	var got []string
	ids := map[string]bool{}
	for i, ev := range evs {
		if ev.Size() > 64<<10 || ids[ev.ID] {
			t.Errorf("event %d: %d bytes, id %s", i, ev.Size(), ev.ID)
		}
		ids[ev.ID] = true
		var d struct {
			Result
			Chunk, Chunks int
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.Chunk != i+1 || d.Chunks != len(evs) || d.TotalCount != 1000 {
			t.Fatalf("event %d: %v %d/%d", i, err, d.Chunk, d.Chunks)
		}
		for _, x := range d.Results {
			got = append(got, x.InstanceId)
		}
	}
	if len(got) != 1000 || got[0] != res.Results[0].InstanceId || got[999] != res.Results[999].InstanceId {
		t.Errorf("%d results over the events", len(got))
	}
	if one := NewEvents(scope, &Result{KeyPairName: "ops-2026"}, nil, "", 64<<10); len(one) != 1 || one[0].ID != NewEvent(scope, &Result{}, nil, "").ID {
		t.Errorf("a small result: %d events", len(one))
	}
}

// TestFleetContinuationGuarded: a continuation (which anyone who may invoke the
// function could write) is held to the guardrails as a request is: its region, its
// Targets' scope, its key pair; and its instances are checked against the cloud, so
// a Running one listed in it is not detached.
func TestFleetContinuationGuarded(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 3, func(i int, in *Instance) {
		if i == 1 {
			in.Status = "Running"
		}
	})
	r := newRig(t, 10, 100, c, newRegionCloud("cn-shanghai", 0, nil))
	r.fleet.svc.opts.Policy = Policy{Regions: []string{"cn-hangzhou"}, ScopedTargets: true, KeyPairNames: []string{"kp"}}
	cont := func(region, targets, keyPair string) []byte {
		return fmt.Appendf(nil, `{"RegionId":%q,"KeyPairName":%q,"Targets":%s,"Continuation":{"RunId":"run-1f","Part":2,"InstanceIds":["%s","%s"],"Cursor":{"Done":true},"Totals":{"Parts":1,"TotalCount":0,"FailCount":0,"Codes":{}}}}`,
			region, keyPair, targets, c.ids[0], c.ids[1])
	}
	for _, raw := range [][]byte{
		cont("cn-shanghai", `{"Tags":[{"Key":"env","Value":"x"}]}`, "kp"),
		cont("cn-hangzhou", `{}`, "kp"),
		cont("cn-hangzhou", `{"Tags":[{"Key":"env","Value":"x"}]}`, "other"),
	} {
		p, err := r.run(raw, 0)
		if err != nil || p.Code != CodeForbiddenPolicy || p.Status() != 403 || !p.Final || len(p.Results) != 0 {
			t.Errorf("%s: %+v %v", raw, p, err)
		}
	}
	if n := c.calls[APIDetachKeyPair]; n != 0 {
		t.Fatalf("%d DetachKeyPair calls", n)
	}
	p, err := r.run(cont("cn-hangzhou", `{"Tags":[{"Key":"env","Value":"x"}]}`, "kp"), 0)
	if err != nil || len(p.Results) != 2 || p.Results[1].ErrorCode != CodeIncorrectStatus || c.in[c.ids[1]].KeyPairName != "kp" {
		t.Errorf("the continuation's Running instance: %+v %v", p, err)
	}
}

// TestFleetEmptyPages: the listing goes past a page that is empty but carries a
// NextToken (a cloud may filter after paging): every bound instance is reported once and
// the Stopped ones detached. Two such pages in a row fail the part as an invalid answer
// (503, InvalidResponse in the message), and nothing is detached.
func TestFleetEmptyPages(t *testing.T) {
	c := newRegionCloud("cn-hangzhou", 35, func(i int, in *Instance) {
		if i%6 == 0 {
			in.Status = "Running"
		}
	})
	c.gaps = func(token string) int { return map[string]int{"": 1, "20": 1}[token] }
	bound := boundIn(c)
	r := newRig(t, 10, 100, c)
	parts := r.chain(c, bound)
	if last := parts[len(parts)-1]; !last.Final || last.Totals.TotalCount != 35 {
		t.Errorf("last part %+v, want Final with 35 instances", last)
	}

	c = newRegionCloud("cn-hangzhou", 35, nil)
	c.gaps = func(token string) int { return map[string]int{"": 2}[token] }
	r = newRig(t, 10, 100, c)
	p, err := r.run([]byte(`{"KeyPairName":"kp",`+targets+`}`), 0)
	if err == nil || err.Status != http.StatusServiceUnavailable || !strings.Contains(err.Message, CodeInvalidResponse) {
		t.Errorf("part %+v, error %v; want 503 naming InvalidResponse", p, err)
	}
	for id, in := range c.in {
		if in.KeyPairName != "kp" {
			t.Errorf("%s lost its key pair", id)
		}
	}
}
