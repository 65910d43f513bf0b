package eligibility

// Version identifies the rule engine's behaviour. It is recorded with every decision;
// bump it whenever a rule, a reason string or a matcher changes.
const Version = "clearway-engine/0.1.0"
