package fcruntime

import (
	"path/filepath"
	"strconv"
	"strings"
)

// BaseEnvOf picks from environ ("K=V", as os.Environ gives it) the variables a host's
// process may hand the function as Config.BaseEnv: PATH, HOME and TZ, nothing else
// (no credentials or settings of the host leak into the function).
func BaseEnvOf(environ []string) []string {
	var out []string
	for _, kv := range environ {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PATH", "HOME", "TZ":
			out = append(out, kv)
		}
	}
	return out
}

// environ is the environment of an instance's process, in the order of
// precedence (later wins): the base (Config.BaseEnv), the function's own variables
// (Config.Env), then what FC sets.
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
	env := append([]string(nil), r.cfg.BaseEnv...)
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
