import { readFileSync } from 'node:fs';

/**
 * The one state machine definition. CDK hands it to Step Functions with the function ARNs
 * substituted; the embedded stack runs the same JSON with aws-local-stepfunctions.
 */
export const DEFINITION_PATH = new URL('./definition.asl.json', import.meta.url);

/**
 * The Task states and the substitution variable that names each one's Lambda function (for the
 * two waits, the one function their callback integrations invoke).
 */
export const TASK_FUNCTIONS = {
  'Wait for the GPU pool': 'WaitForSlotFunctionArn',
  'Generate images': 'GenerateImagesFunctionArn',
  'Wait for a GPU slot': 'WaitForSlotFunctionArn',
  'Record failed iterations': 'RecordFailedIterationFunctionArn',
  'Render contact sheet': 'RenderContactSheetFunctionArn',
  'Finalize job': 'FinalizeJobFunctionArn',
} as const;

export type TaskStateName = keyof typeof TASK_FUNCTIONS;

/** Task states that invoke another state's function: both waits put a token in the pool's line. */
export const SHARES_FUNCTION_OF = { 'Wait for the GPU pool': 'Wait for a GPU slot' } as const;
/** The Task states that have a function of their own, one per function. */
export type FunctionStateName = Exclude<TaskStateName, keyof typeof SHARES_FUNCTION_OF>;
export const FUNCTION_STATES = (Object.keys(TASK_FUNCTIONS) as TaskStateName[]).filter(
  (state): state is FunctionStateName => !(state in SHARES_FUNCTION_OF),
);
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
