package fcruntime

// Scheduling: which instance serves which call. Every function here runs
// with Runner.mu held, except end and withdraw, which take it.
//
// An instance serves one call at a time (instance.current). A synchronous
// call goes to an idle instance or to a new one, or is refused (place); an
// asynchronous one waits in Runner.queue until dispatch finds it an
// instance. When a call ends, its instance is freed: it takes the next
// queued call, or waits, warm, in Runner.idle.

// place finds c an instance: an idle one, or a new one (fresh: the caller
// starts it) while fewer than MaxInstances run. Past that, c is refused with
// FC's throttling error.
func (r *Runner) place(c *call) (inst *instance, fresh bool, err error) {
	if inst := r.popIdle(); inst != nil {
		r.assign(inst, c)
		return inst, false, nil
	}
	if len(r.instances) < r.cfg.MaxInstances {
		return r.newInstance(c), true, nil
	}
	r.stats.Throttled++
	return nil, false, throttled(r.cfg.FunctionName, r.cfg.MaxInstances)
}

// dispatch hands queued asynchronous calls to idle instances, and starts new
// instances for the rest while fewer than MaxInstances run; the others wait.
func (r *Runner) dispatch() {
	for len(r.queue) > 0 && !r.closed {
		c := r.queue[0]
		if r.expired(c.task) {
			r.queue = r.queue[1:]
			go r.expire(c.task)
			continue
		}
		if inst := r.popIdle(); inst != nil {
			r.queue = r.queue[1:]
			r.assign(inst, c)
			go r.runAttempt(c)
			continue
		}
		if len(r.instances) >= r.cfg.MaxInstances {
			return
		}
		r.queue = r.queue[1:]
		inst := r.newInstance(c)
		go r.launchAttempt(inst, c)
	}
}

// newInstance registers an instance about to be started, serving c first
// (c may be nil: the instance joins the idle ones when ready).
func (r *Runner) newInstance(c *call) *instance {
	inst := &instance{
		id:     newInstanceID(),
		ready:  make(chan struct{}),
		done:   make(chan struct{}),
		signal: make(chan struct{}, 1),
	}
	r.instances[inst] = struct{}{}
	r.stats.PeakInstances = max(r.stats.PeakInstances, len(r.instances))
	if c != nil {
		r.assign(inst, c)
	}
	return inst
}

// forget drops an instance whose process never started.
func (r *Runner) forget(inst *instance) {
	delete(r.instances, inst)
	r.dispatch()
	r.broadcast()
}

// assign makes c the call inst serves next, and wakes its request for work.
func (r *Runner) assign(inst *instance, c *call) {
	inst.current, c.inst = c, inst
	select {
	case inst.signal <- struct{}{}:
	default:
	}
}

// free puts an instance whose call has ended back to work: the next queued
// call, or the idle ones. An instance that is not ready, stopping or gone
// takes nothing.
func (r *Runner) free(inst *instance) {
	if r.closed || !inst.isReady || inst.stopping || inst.current != nil {
		return
	}
	r.idle = append(r.idle, inst)
	r.dispatch()
}

// popIdle takes the idle instance freed last (the warmest), if any.
func (r *Runner) popIdle() *instance {
	for n := len(r.idle); n > 0; n = len(r.idle) {
		inst := r.idle[n-1]
		r.idle = r.idle[:n-1]
		if !inst.stopping {
			return inst
		}
	}
	return nil
}

// unidle removes inst from the idle ones.
func (r *Runner) unidle(inst *instance) {
	for i, in := range r.idle {
		if in == inst {
			r.idle = append(r.idle[:i], r.idle[i+1:]...)
			return
		}
	}
}

// end decides the outcome of c, unless it is decided already, and frees its
// instance (or, with recycle, marks it for stopping instead). It reports
// whether it decided; whoever decides delivers c's only outcome.
func (r *Runner) end(c *call, o outcome, recycle bool) bool {
	r.mu.Lock()
	if c.ended {
		r.mu.Unlock()
		return false
	}
	r.release(c, recycle)
	r.mu.Unlock()
	c.done <- o
	return true
}

// withdraw ends c with err if the function has not got it yet.
func (r *Runner) withdraw(c *call, err error) bool {
	r.mu.Lock()
	if c.ended || c.handed {
		r.mu.Unlock()
		return false
	}
	r.release(c, false)
	r.mu.Unlock()
	c.done <- outcome{err: err}
	return true
}

// release marks c ended and detaches it from its instance.
func (r *Runner) release(c *call, recycle bool) {
	c.ended = true
	if inst := c.inst; inst != nil && inst.current == c {
		inst.current = nil
		if recycle {
			inst.stopping = true
		}
		r.free(inst)
	}
	r.broadcast()
}

// broadcast wakes Drain.
func (r *Runner) broadcast() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// busy reports whether an instance serves a call.
func (r *Runner) busy() bool {
	for inst := range r.instances {
		if inst.current != nil {
			return true
		}
	}
	return false
}
