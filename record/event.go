package record

import (
	"encoding/json"
	"time"
)

// Event is one entry in a run's journal: something that happened during
// the run (an item started or finished, a person answered, approved or
// scored a step, an inject was delivered, the stop was toggled, a report
// was rendered, someone signed). Events are appended, never changed; each
// carries the hash of the one before it, so the journal is a chain that
// shows any later edit.
type Event struct {
	// Seq numbers the run's events from 1.
	Seq int64 `json:"seq"`
	// Type is one of the Event* constants.
	Type string `json:"type"`
	// Item is the item the event is about ("step.name"), if any.
	Item string `json:"item,omitempty"`
	// OccurredAt is when it happened; RecordedAt when the journal wrote
	// it (later for an answer typed offline, say).
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	// Actor is who did it (an operator, a console user); empty for the
	// engine itself.
	Actor string `json:"actor,omitempty"`
	// Surface is where: one of the Surface* constants.
	Surface string `json:"surface,omitempty"`
	// Data is the event's content, by type (an item, an answer, ...).
	Data json.RawMessage `json:"data,omitempty"`
	// Prev is the hash of the event before (empty for the first), Hash
	// this event's own.
	Prev string `json:"prev"`
	Hash string `json:"hash"`
	// Raw is the event as the journal stores it, when it was read from
	// one: CheckChain hashes it as it is, so a member the fields above
	// do not have is not overlooked.
	Raw json.RawMessage `json:"-"`

	// canonData is the canonical encoding of Data when SetItemData
	// wrote both, so that Sealer need not read Data again.
	canonData, canonOf []byte
}

// Event types.
const (
	EventRunStarted   = "run.started"
	EventItemStarted  = "item.started"
	EventItemFinished = "item.finished"
	EventAnswer       = "answer"
	EventConfirm      = "confirm"
	EventDecline      = "decline"
	EventApproval     = "approval"
	EventAck          = "ack"
	EventEscalation   = "escalation"
	EventInject       = "inject"
	EventPause        = "pause"
	EventResume       = "resume"
	EventScore        = "score"
	EventStop         = "stop"
	EventReport       = "report"
	EventSignoff      = "signoff"
	EventSignature    = "signature"
	EventRunFinished  = "run.finished"
)

// More places an event can come from (see also SurfaceTerminal,
// SurfaceConsole, SurfaceAnswersFile).
const (
	SurfaceAPI    = "api"
	SurfaceWatch  = "watch"
	SurfaceEngine = "engine"
)
