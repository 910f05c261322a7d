import { readFileSync } from 'node:fs';

/**
 * The one state machine definition. CDK hands it to Step Functions with the function ARNs
 * substituted; the embedded stack runs the same JSON with aws-local-stepfunctions.
 */
export const DEFINITION_PATH = new URL('./definition.asl.json', import.meta.url);

/**
 * The Task states and the substitution variable that names each one's Lambda function (for
 * "Wait for a GPU slot", the function its callback integration invokes).
 */
export const TASK_FUNCTIONS = {
  'Generate images': 'GenerateImagesFunctionArn',
  'Wait for a GPU slot': 'WaitForSlotFunctionArn',
  'Record failed iterations': 'RecordFailedIterationFunctionArn',
  'Render contact sheet': 'RenderContactSheetFunctionArn',
  'Finalize job': 'FinalizeJobFunctionArn',
} as const;

export type TaskStateName = keyof typeof TASK_FUNCTIONS;
export type FunctionArnVariable = (typeof TASK_FUNCTIONS)[TaskStateName];

export const readDefinitionText = (): string => readFileSync(DEFINITION_PATH, 'utf8');

/** The definition with `${Variable}` replaced, as Step Functions' definitionSubstitutions does. */
export function substituteDefinition(substitutions: Record<FunctionArnVariable, string>): string {
  return readDefinitionText().replace(/\$\{(\w+)\}/g, (whole, name: string) => {
    const value = substitutions[name as FunctionArnVariable];
    if (value === undefined) throw new Error(`No substitution for ${whole} in the state machine definition`);
    return value;
  });
}
