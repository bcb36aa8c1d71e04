import { IConstruct } from 'constructs';

/**
 * The error cdk-ami throws at synth time when a property breaks a rule of
 * EC2, CloudFormation or this library.
 *
 * Its `message` is one sentence naming the field, the value and the rule,
 * the same on every supported aws-cdk-lib version, so tests can match it
 * (`expect(...).toThrow(/imageName/)`). The construct that rejected the
 * property is in `constructPath`.
 *
 * Not exported from the package: jsii cannot extend `Error`. It is not
 * aws-cdk-lib's `ValidationError`, which is `@internal` and whose constructor
 * changed (2.276 takes `(name, message, scope)`), turning our messages into
 * construct paths.
 */
export class AmiValidationError extends Error {
  /**
   * The path of the construct whose properties were rejected, e.g. `MyStack/Image`.
   */
  public readonly constructPath: string;

  /**
   * @param message what is wrong and how to fix it
   * @param scope the construct whose properties were rejected
   */
  constructor(message: string, scope: IConstruct) {
    super(message);
    // Keeps `instanceof` working when TypeScript compiles to ES5-style classes.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'AmiValidationError';
    this.constructPath = scope.node.path;
  }
}
