/**
 * The errors the services answer with (`ApiError`, rendered as each protocol's error document) and the
 * EC2 errors several actions share: MissingParameter, InvalidParameterValue and the NotFound codes.
 */

/** An error the service answers with: rendered as the protocol's error document. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

export function missingParameter(name: string): ApiError {
  return new ApiError('MissingParameter', `The request must contain the parameter ${name}`);
}

export function invalidValue(message: string): ApiError {
  return new ApiError('InvalidParameterValue', message);
}

export function imageNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidAMIID.NotFound', `The image id '[${ids[0]}]' does not exist`)
    : new ApiError('InvalidAMIID.NotFound', `The image ids '[${ids.join(', ')}]' do not exist`);
}

export function instanceNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidInstanceID.NotFound', `The instance ID '${ids[0]}' does not exist`)
    : new ApiError('InvalidInstanceID.NotFound', `The instance IDs '${ids.join(', ')}' do not exist`);
}

export function snapshotNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidSnapshot.NotFound', `The snapshot '${ids[0]}' does not exist.`)
    : new ApiError('InvalidSnapshot.NotFound', `The snapshots '${ids.join(', ')}' do not exist.`);
}

/**
 * DescribeImportImageTasks / CancelImportTask answer this for IDs they do not know, expired tasks included.
 * The code is what EC2 is reported to answer for tasks that no longer exist; the message is best knowledge.
 */
export function importTaskNotFound(id: string): ApiError {
  return new ApiError('InvalidConversionTaskId.Malformed', `The import task ID '${id}' is malformed or does not exist`);
}

/** A parameter that must be one of a fixed set of values. */
export function assertOneOf(name: string, value: string | undefined, allowed: ReadonlySet<string>): void {
  if (value !== undefined && !allowed.has(value)) throw invalidValue(`Value (${value}) for parameter ${name} is invalid.`);
}
