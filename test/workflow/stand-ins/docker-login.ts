// docker/login-action: a real `docker login` (password on stdin) against the registry, into the
// job's client folder inside the run's folder; DOCKER_CONFIG is exported so that later steps
// (build-push, a script's docker push) use the same credentials. ECR and the post-job logout are
// left out.
import type { StandIn } from './index';
import { docker, dockerConfigDir } from './docker';
import { noteInputs, StandInError, stringInput } from './inputs';
import { exportVariable } from './runner-files';

const Inputs = { Registry: 'registry', Username: 'username', Password: 'password' } as const;

export const dockerLogin: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, {
    handled: Object.values(Inputs),
    ignored: {
      ecr: 'no ECR here',
      logout: 'the client folder lives and dies with the run',
      scope: 'no scoped credentials',
    },
  });
  const registry = stringInput(inputs, Inputs.Registry);
  const username = stringInput(inputs, Inputs.Username);
  // Trimmed, as core.getInput gives it to the real action.
  const password = stringInput(inputs, Inputs.Password);
  if (!username || !password) throw new StandInError('Username and password required');
  ctx.log(`Logging into ${registry || 'Docker Hub'}...`);
  // The password goes on stdin and nowhere else: never into argv, the log or an error message.
  await docker(ctx, ['login', '--username', username, '--password-stdin', ...(registry ? [registry] : [])], {
    input: password,
    timeoutMs: 120_000,
  });
  await exportVariable(ctx, 'DOCKER_CONFIG', dockerConfigDir(ctx));
  ctx.log('Login Succeeded!');
  return { outputs: {} };
};
