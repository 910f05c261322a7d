import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploySettings } from './deploy-settings.ts';
import { SdbatchStack } from './sdbatch-stack.ts';

export const STACK_NAME = 'Sdbatch';

/**
 * The app's contents, shared by cdk/app.ts and the infra tests: the stack from context values,
 * checked by cdk-nag's AwsSolutions pack at every synth (a finding fails the synth).
 */
export function defineApp(app: App): SdbatchStack {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // No env: environment-agnostic, so synth needs no account; nothing is looked up.
  return new SdbatchStack(app, STACK_NAME, {
    description: 'sdbatch: asynchronous Stable Diffusion batches over MCP',
    settings: readDeploySettings(app.node),
  });
}
