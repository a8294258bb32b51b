package canary

// Exit statuses of the Cloud Run job and the local runner: the contract's.
const (
	ExitPass     = 0 // the scenario(s) passed and were recorded
	ExitFail     = 1 // a scenario failed (and was recorded)
	ExitUsage    = 2 // bad configuration or usage: nothing sent anywhere
	ExitRecorder = 3 // a result could not be recorded (it is in the log)
)
