import { CfnResource, RemovalPolicy, RemovalPolicyOptions, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AttributeName, RenderedProperties, ResourceType } from './contract';

/**
 * A resource of the cdk-ami provider: the same template as `CustomResource`
 * with `removalPolicy: DESTROY`, written as the L1 `CfnResource`. Its
 * `DeletionPolicy` and `UpdateReplacePolicy` are always `Delete`: the handler
 * applies the user's removal policy itself (the removal rule,
 * lambda/shared/removal.ts), so it must see every Delete, also the one that
 * removes what a failed deployment made. A removal policy applied to the
 * resource (`applyRemovalPolicy` on it or on its construct, or aws-cdk-lib's
 * `RemovalPolicies` aspect) is handed to its owner, which renders it as the
 * `RemovalPolicy` property the handler reads.
 * Every image has three or more of these, and synth time grows with them: the
 * L2 wrapper adds a construct and, with version reporting on, analytics
 * metadata entries to the cloud assembly for each one.
 *
 * The properties are type-checked against the contract's schema of `type`
 * (`./contract`), the one the handler checks them against.
 */
export class ProviderResource<T extends ResourceType = ResourceType> extends CfnResource {
  private removalPolicyTarget?: (policy: RemovalPolicy) => void;

  constructor(scope: Construct, id: string, serviceToken: string, type: T, properties: RenderedProperties<T>) {
    super(scope, id, { type, properties: { ServiceToken: serviceToken, ...properties } });
    super.applyRemovalPolicy(RemovalPolicy.DESTROY);
  }

  /**
   * Where a removal policy applied to this resource goes: the owner of data
   * (an image, a stored object, a parameter) renders it as the `RemovalPolicy`
   * property. A resource without one holds nothing to keep (a waiter link),
   * and ignores it.
   */
  public onRemovalPolicy(apply: (policy: RemovalPolicy) => void): void {
    this.removalPolicyTarget = apply;
  }

  /** The policy goes to the handler (see `onRemovalPolicy`); `DeletionPolicy` stays `Delete`. */
  public override applyRemovalPolicy(policy?: RemovalPolicy, options: RemovalPolicyOptions = {}): void {
    // As CfnResource reads it: no policy is the option's default, else RETAIN.
    this.removalPolicyTarget?.(policy ?? options.default ?? RemovalPolicy.RETAIN);
  }

  /** An attribute the handler returns in `Data` (one of the contract's `Attributes` of `type`), as a string token. */
  public attribute(name: AttributeName<T>): string {
    return Token.asString(this.getAtt(name));
  }
}
