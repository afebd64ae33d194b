package stack

// WorkspaceRoot returns the repository root (the folder of go.work), for
// tests that read files kept outside their package, such as docs/.
func WorkspaceRoot() (string, error) { return workspaceRoot() }
