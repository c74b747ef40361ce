package handler

import (
	"fmt"
	"log/slog"

	"detachkeypair/detach"
)

// refuseOwnEvent is the loop guard: it refuses an EventBridge event whose source is the
// function's own EVENT_SOURCE, that is, one of its result events (or another deployment's
// with the same setting) routed back to it by a rule that matches too much. Running it
// would detach nothing useful and emit another result event, which the same rule would
// route back again. The refusal is InvalidParameter.Event (a 4xx outcome: the invocation
// succeeds, so neither EventBridge nor FC retries it), it is logged, and the caller emits
// no result event for it: that event would loop the same way. Nil means the event may run.
func refuseOwnEvent(ev cloudEvent, ownSource string) *detach.Error {
	if ownSource == "" || ev.Source != ownSource {
		return nil
	}
	return detach.InvalidParameter("Event", fmt.Sprintf(
		"the event's source %q is the function's own EVENT_SOURCE: result events are not requests, "+
			"so the function refuses them to avoid a loop; route only request sources to it", ev.Source))
}

// logOwnEvent logs the refusal of an event from the function's own EVENT_SOURCE (the
// logger carries the event's type and subject).
func logOwnEvent(log *slog.Logger) {
	log.Warn("event refused: it comes from this function's own EVENT_SOURCE (a result event routed back); " +
		"check the rules that target the function")
}
