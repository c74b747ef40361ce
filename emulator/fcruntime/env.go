package fcruntime

import (
	"os"
	"path/filepath"
	"strconv"
)

// environ is the environment of an instance's process, in the order of
// precedence (later wins): a minimal base taken from this process, the
// function's own variables (Config.Env), then what FC sets.
//
// FC 3.0 documents these system variables: FC_FUNC_CODE_PATH, the role's
// ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN,
// FC_ACCOUNT_ID, FC_FUNCTION_HANDLER, FC_FUNCTION_MEMORY_SIZE,
// FC_FUNCTION_NAME, FC_REGION, FC_INSTANCE_ID (FC_CUSTOM_LISTEN_PORT is for
// custom runtimes only). An instance's environment also shows
// FC_RUNTIME_API (host:port) and FC_CONTAINER_ID (the instance id).
// The version variable (FC_VER_ID or FC_FUNCTION_VERSION, depending on the
// runtime's Debian release) is left out: which one go1 sets is not documented.
func (r *Runner) environ(inst *instance) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, r.cfg.Env...)
	env = append(env,
		"FC_RUNTIME_API="+inst.addr,
		"FC_FUNC_CODE_PATH="+filepath.Dir(r.cfg.Binary)+string(filepath.Separator),
		"FC_FUNCTION_NAME="+r.cfg.FunctionName,
		"FC_FUNCTION_HANDLER="+r.cfg.Handler,
		"FC_FUNCTION_MEMORY_SIZE="+strconv.Itoa(r.cfg.MemoryMB),
		"FC_REGION="+r.cfg.Region,
		"FC_ACCOUNT_ID="+r.cfg.AccountID,
		"FC_INSTANCE_ID="+inst.id,
		"FC_CONTAINER_ID="+inst.id,
	)
	if cr := r.cfg.Credentials; cr.AccessKeyID != "" {
		env = append(env,
			"ALIBABA_CLOUD_ACCESS_KEY_ID="+cr.AccessKeyID,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+cr.AccessKeySecret,
			"ALIBABA_CLOUD_SECURITY_TOKEN="+cr.SecurityToken,
		)
	}
	return env
}
