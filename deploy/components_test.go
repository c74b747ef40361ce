package deploy

// What the Serverless Devs components and engine do that their specifications do not say,
// as read in their source (testdata/spec/SOURCES.md names the commits). The tests rely on
// these facts; a new use of a component (a command in deploy/README.md, a reference in
// s.yaml) must be found here, or added with its source.

// component is what s.yaml may use of one Serverless Devs component.
type component struct {
	// commands are the component's commands and the options each accepts (beyond the
	// engine's own, sOptions).
	commands map[string][]string
	// outputKeys are the keys of what deploy returns, which ${resources.X.output.KEY}
	// may name; nil when they come from elsewhere (ros: the stack's outputs).
	outputKeys []string
	// infoKeys are those of what info returns, for ${resources.X.info.KEY}.
	infoKeys []string
}

// fc3Keys are the top-level keys of fc3's deploy and info results: Info.run() in
// src/subCommands/info/index.ts merges `region`, the FC 3.0 GetFunction body
// (src/resources/fc/index.ts getFunction; the fields of FC API 2023-03-30's Function,
// of which these are the ones worth referring to), `triggers`, `asyncInvokeConfig`,
// `concurrencyConfig` and, with an HTTP trigger, `url`; src/subCommands/deploy/index.ts
// returns the same Info.run() result after deploying.
var fc3Keys = []string{
	"region", "functionName", "functionArn", "description", "runtime", "handler", "role",
	"memorySize", "timeout", "cpu", "diskSize", "environmentVariables", "logConfig",
	"triggers", "asyncInvokeConfig", "concurrencyConfig", "url",
}

// components are the components s.yaml uses.
var components = map[string]component{
	// github.com/devsapp/fc3: commands and options from src/commands-help/{deploy,info,
	// invoke,logs,remove}.ts (deploy also reads --async-invoke-config,
	// src/subCommands/deploy/index.ts).
	"fc3": {
		commands: map[string][]string{
			"deploy": {"-y", "--assume-yes", "--skip-push", "--function", "--trigger", "--async-invoke-config"},
			"info":   {"--region", "--function-name"},
			"invoke": {"--region", "--function-name", "--qualifier", "--timeout", "-e", "--event", "-f", "--event-file", "--invocation-type", "--async-task-id"},
			"logs": {"--region", "--function-name", "--request-id", "--instance-id", "-s", "--start-time", "-e", "--end-time",
				"--tail", "--type", "--qualifier", "--match", "--search"},
			"remove": {"--region", "--function-name", "--trigger", "-y", "--assume-yes"},
		},
		outputKeys: fc3Keys,
		infoKeys:   fc3Keys,
	},
	// github.com/devsapp/ros: src/index.ts has deploy, info and remove; remove reads -y.
	// deploy and info return {stackId, <OutputKey>: <OutputValue>...} (src/impl/ros.ts
	// info), so their keys are the stack's outputs: rosOutputKeys.
	"ros": {
		commands: map[string][]string{
			"deploy": {"-y", "--assume-yes"},
			"info":   {},
			"remove": {"-y", "--assume-yes"},
		},
	},
}

// sOptions are the engine's own options, valid with every command
// (Serverless-Devs/toolkit packages/parse-spec/src/index.ts parseArgv and the engine's -f).
var sOptions = []string{"-a", "--access", "-t", "--template", "--debug", "-o", "--output", "--skip-actions", "--env", "-f", "--force", "-h", "--help"}

// triggerConfigDefinitions name the fc3 schema definition of each trigger type's
// triggerConfig: the schema only says "any of them" (and IOtsConfig, an empty interface,
// matches anything), while src/interface/trigger.ts pairs each type with its interface.
var triggerConfigDefinitions = map[string]string{
	"http": "IHttpTriggerConfig", "timer": "ITimerTriggerConfig", "eventbridge": "IEventBridge",
	"oss": "IOssTriggerConfig", "log": "ILogTriggerConfig", "mns_topic": "IMnsTriggerConfig",
	"cdn_events": "ICdnTriggerConfig", "tablestore": "IOtsConfig",
}

// fc3OptionalInPractice are fields fc3-schema.json calls required that the component does
// not need: its complete-props test fixture (__tests__/complete-props.yaml, trigger
// eventbridgeTriggerWithDefaultSource) has none of them, and FC's API marks them optional.
// Definition → JSON pointer of the object inside it → fields.
var fc3OptionalInPractice = map[string]map[string][]string{
	"IEventBridge": {
		"":                              {"eventSinkConfig", "runOptions"},
		"/properties/eventSourceConfig": {"eventSourceParameters"},
	},
}

// rosTemplateAsString: the ros component's publish.yaml types `template` as an object,
// but its code (src/impl/ros.ts getTemplate) also takes a string, a file path read
// relative to the working directory or an http(s)/oss URL, and its examples/s.yaml
// gives a path. The tests accept both.
const rosTemplateAsString = true

// fc3TriggersStopAtUnchangedEventBridge: src/subCommands/deploy/impl/trigger.ts run()
// deploys the triggers in list order and returns at the first eventbridge trigger whose
// remote configuration equals the local one, so the triggers after it are never updated.
const fc3TriggersStopAtUnchangedEventBridge = true
