package detach

import (
	"encoding/json"
	"fmt"
	"time"
)

// Events are the result events of an invocation of a fleet run: the part's (its
// answer, keypair.detach.completed, or keypair.detach.failed when it could not run),
// split over several events within maxBytes as NewEvents splits a result; and, from
// the first invocation, one keypair.detach.failed for each region that does not run
// (its key pair not found, say), which is that region's Final event. Each event's
// subject names its region; its data has RunId, Region, Part, Final and the region's
// Totals. Ids are derived as NewEvent's, with the region, the part and the share.
func (p *Part) Events(scope EventScope, maxBytes int) []Event {
	now := time.Now().UTC()
	seed := scope.seed(now)
	event := func(region string, part int, failed bool, data []byte) Event {
		ev := Event{Source: scope.Source, Time: now, Type: EventCompleted, Data: data,
			Subject: keyPairSubject(ProductECS, region, scope.AccountID, p.KeyPairName)}
		if failed {
			ev.Type = EventFailed
		}
		ev.ID = eventID(fmt.Sprintf("%s/%s/%s/%d", seed, p.RunId, region, part))
		return ev
	}
	data, _ := json.Marshal(p)
	ev := event(p.Region, p.Part, p.Failed(), data)
	evs := []Event{ev}
	if maxBytes > 0 && ev.Size() > maxBytes {
		evs = splitEvent(ev, maxBytes, p.Results, func(chunk []InstanceResult, i, n int) any {
			c := *p
			c.Results = chunk
			return chunked[*Part]{&c, i, n}
		})
	}
	for _, run := range p.Regions {
		if run.Code == "" || run.RegionId == p.Region {
			continue
		}
		q := Part{RunId: p.RunId, Region: run.RegionId, Attempt: p.Attempt, Final: true, Code: run.Code, Message: run.Message,
			Totals: Totals{Codes: map[string]int{}},
			Result: Result{RequestId: p.RequestId, KeyPairName: p.KeyPairName, DryRun: p.DryRun, Caller: p.Caller, Results: []InstanceResult{}}}
		data, _ := json.Marshal(&q)
		evs = append(evs, event(run.RegionId, 0, true, data))
	}
	return evs
}
