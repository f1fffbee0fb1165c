package main

// playFIFO tours 06-fifo: both start orders, a shell tool on one side, and a reader that
// follows several writers.
func playFIFO(t *tour) error {
	const path = "demo.fifo"

	t.say("The reader first: it makes the FIFO and waits in open for a writer; at the writer's EOF it removes the FIFO.")
	r, err := t.start(nil, "reader", "-path", path)
	if err != nil {
		return err
	}
	if err := r.waitFor(`^reader: waiting for a writer to open `); err != nil {
		return err
	}
	if _, err := t.run("writer", "-path", path, "hello", "second line"); err != nil {
		return err
	}
	out, err := r.wait()
	if err != nil {
		return err
	}
	if err := expect("reader", out, "hello\nsecond line\n"); err != nil {
		return err
	}

	t.say("The writer first, and cat as the reader: any program that reads a file can use a FIFO.")
	w, err := t.start(nil, "writer", "-path", path, "hi, cat")
	if err != nil {
		return err
	}
	if err := w.waitFor(`^writer: waiting for a reader to open `); err != nil {
		return err
	}
	if out, err = t.shell("cat " + path); err != nil {
		return err
	}
	if err := expect("cat", out, "hi, cat\n"); err != nil {
		return err
	}
	if _, err := w.wait(); err != nil {
		return err
	}

	t.say("reader -follow goes on across writers, one after another, until Ctrl-C.")
	r, err = t.start(nil, "reader", "-follow", "-path", path)
	if err != nil {
		return err
	}
	if err := r.waitFor(`^reader: waiting for a writer to open `); err != nil {
		return err
	}
	if _, err := t.run("writer", "-path", path, "one"); err != nil {
		return err
	}
	// The next writer only once the reader has seen this one's end of file and opened the
	// FIFO anew: a writer that came before would join this one, and the reader would see one
	// end of file for both (and print its line only after the next command line).
	const nextWriter = `every writer has closed .*; waiting for the next writer`
	if err := r.waitFor(nextWriter); err != nil {
		return err
	}
	if _, err := t.shell("echo two > " + path); err != nil {
		return err
	}
	if err := r.waitForCount(nextWriter, 2); err != nil {
		return err
	}
	if out, err = r.interrupt(); err != nil {
		return err
	}
	return expect("reader", out, "one\ntwo\n")
}
