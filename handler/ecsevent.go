package handler

import (
	"encoding/json"
	"fmt"

	"detachkeypair/detach"
)

// ECS instance events: "strip key K from every instance that stops".
const (
	ecsEventSource      = "acs.ecs"
	ecsStateChangeType  = "ecs:Instance:StateChange"
	ecsStateChangeState = "Stopped"
)

// ecsEventData is the part of an ECS instance event's data the function reads.
type ecsEventData struct {
	RegionID string `json:"regionId"`
	Content  struct {
		ResourceID string `json:"resourceId"`
		State      string `json:"state"`
	} `json:"content"`
}

// instanceEventRequest turns an ECS instance event into a request for that instance,
// with the key pair of the KEY_PAIR_ID / KEY_PAIR_NAME settings. Every other ECS event,
// and this one without such a setting, is InvalidParameter.Event (not worth a retry).
func (h *Handler) instanceEventRequest(ev cloudEvent, data []byte) (detach.Request, *detach.Error) {
	if ev.Type != ecsStateChangeType {
		return detach.Request{}, detach.InvalidParameter("Event", fmt.Sprintf(
			"ECS event type %s is not handled: only %s events with state %s are", detach.Echo(ev.Type), ecsStateChangeType, ecsStateChangeState))
	}
	var d ecsEventData
	if err := json.Unmarshal(data, &d); err != nil {
		return detach.Request{}, detach.InvalidParameter("Event", "the ECS event's data is not valid: "+err.Error())
	}
	if d.Content.State != ecsStateChangeState {
		return detach.Request{}, detach.InvalidParameter("Event", fmt.Sprintf(
			"the instance's new state is %s; only %s instances can lose a key pair", detach.Echo(d.Content.State), ecsStateChangeState))
	}
	if h.cfg.KeyPairID == "" && h.cfg.KeyPairName == "" {
		return detach.Request{}, detach.InvalidParameter("Event",
			"ECS instance events need the key pair in the function's settings: set KEY_PAIR_ID or KEY_PAIR_NAME")
	}
	region := d.RegionID
	if region == "" {
		region = ev.RegionID
	}
	req := detach.Request{
		Product:     detach.ProductECS, // whatever DEFAULT_PRODUCT says
		RegionId:    region,
		KeyPairId:   h.cfg.KeyPairID,
		KeyPairName: h.cfg.KeyPairName,
		InstanceIds: []string{d.Content.ResourceID},
	}
	if err := req.Validate(h.cfg.MaxInstances); err != nil {
		return detach.Request{}, detach.InvalidParameter("Event", "the ECS event does not name a valid instance: "+err.Message)
	}
	return req, nil
}
