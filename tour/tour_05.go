package main

// playPipes tours 05-pipes: a shell pipeline, a reader that leaves early, and a parent that
// makes the pipe itself.
func playPipes(t *tour) error {
	t.say("The shell makes a pipe: the writer's stdout is its write end, the reader's stdin its read end.")
	out, err := t.shell("writer a b c | reader")
	if err != nil {
		return err
	}
	if err := expect("the pipeline", out, "a\nb\nc\n"); err != nil {
		return err
	}

	t.say("The reader leaves after one line: the writer's next write fails with EPIPE, and SIGPIPE ends it, quietly.")
	if out, err = t.shell("writer -n 100000000 | head -1"); err != nil {
		return err
	}
	if err := expect("the pipeline", out, "1\n"); err != nil {
		return err
	}

	t.say("No shell: the parent makes the pipe with pipe2, starts the reader on its read end, writes, closes, waits.")
	if out, err = t.run("parent", "a", "b", "c"); err != nil {
		return err
	}
	return expect("the parent's reader", out, "a\nb\nc\n")
}
