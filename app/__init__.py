"""The applications on top of the library: the `lantern` CLI and the Gradio chat UI."""
