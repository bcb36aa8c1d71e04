import { CfnResource, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AttributeName, RenderedProperties, ResourceType } from './contract';

/**
 * A resource of the cdk-ami provider: the same template as `CustomResource`
 * with `removalPolicy: DESTROY` (the handler applies the user's removal policy
 * itself, so it must see every Delete), written as the L1 `CfnResource`.
 * Every image has three or more of these, and synth time grows with them: the
 * L2 wrapper adds a construct and, with version reporting on, analytics
 * metadata entries to the cloud assembly for each one.
 *
 * The properties are type-checked against the contract's schema of `type`
 * (`./contract`), the one the handler checks them against.
 */
export class ProviderResource<T extends ResourceType = ResourceType> extends CfnResource {
  constructor(scope: Construct, id: string, serviceToken: string, type: T, properties: RenderedProperties<T>) {
    super(scope, id, { type, properties: { ServiceToken: serviceToken, ...properties } });
    this.applyRemovalPolicy(RemovalPolicy.DESTROY);
  }

  /** An attribute the handler returns in `Data` (one of the contract's `Attributes` of `type`), as a string token. */
  public attribute(name: AttributeName<T>): string {
    return Token.asString(this.getAtt(name));
  }
}
