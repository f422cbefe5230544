package processor

import (
	"runtime"
	"sync"
)

// parallel runs jobs on worker goroutines for one owner, the goroutine that starts
// it: the owner submits jobs in order, waits for each job's result in that order
// (job.wait), and joins the workers (join) before it returns. Every chunked parallel
// step of the processor goes through it: the preparation of a poll's records and the
// reads of due timers (runChunked), backfill scans, and the load of a partition's
// bitmaps. Workers take jobs in submission order, so the first jobs are done first.
type parallel struct {
	queue chan *job
	wg    sync.WaitGroup
}

// job is one chunk of work: fn runs on a worker, with the worker's index (for state
// of its own, such as a scratch record), and done is closed when it returns.
type job struct {
	fn   func(worker int)
	done chan struct{}
}

func newJob(fn func(worker int)) *job { return &job{fn: fn, done: make(chan struct{})} }

// wait waits until the job has run.
func (j *job) wait() { <-j.done }

// startParallel starts workers goroutines (at least one); up to queued submitted jobs
// wait for a worker without blocking the owner.
func startParallel(workers, queued int) *parallel {
	p := &parallel{queue: make(chan *job, queued)}
	for i := range max(workers, 1) {
		p.wg.Go(func() {
			for j := range p.queue {
				j.fn(i)
				close(j.done)
			}
		})
	}
	return p
}

// start hands j to the workers, blocking while the queue is full.
func (p *parallel) start(j *job) { p.queue <- j }

// submit starts a job running fn and returns it.
func (p *parallel) submit(fn func(worker int)) *job {
	j := newJob(fn)
	p.start(j)
	return j
}

// join waits for the jobs submitted to run and for the workers to return. Nothing
// may be submitted after it.
func (p *parallel) join() {
	close(p.queue)
	p.wg.Wait()
}

// chunked runs fn(i) for every i in [0, n), in chunks of size indexes, on up to
// GOMAXPROCS workers, first chunks first.
type chunked struct {
	size int
	jobs []*job
	par  *parallel
}

func runChunked(n, size int, fn func(i int)) *chunked {
	chunks := (n + size - 1) / size
	c := &chunked{size: size, jobs: make([]*job, chunks)}
	c.par = startParallel(min(runtime.GOMAXPROCS(0), chunks), chunks)
	for k := range chunks {
		c.jobs[k] = c.par.submit(func(int) {
			for i := k * size; i < min((k+1)*size, n); i++ {
				fn(i)
			}
		})
	}
	return c
}

// wait waits for the chunk holding index i.
func (c *chunked) wait(i int) { c.jobs[i/c.size].wait() }

// finish waits for every chunk and joins the workers.
func (c *chunked) finish() { c.par.join() }
