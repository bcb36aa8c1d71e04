import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AttributeName, PropertyName, RenderedProperties, ResourceTypes, Timing } from './contract';
import { ProviderResource } from './provider-resource';

/** The waits a `WaiterChain` can chain: an image (or store task), or a builder's setup. */
export type WaitType = typeof ResourceTypes.WAITER | typeof ResourceTypes.BUILDER_SETUP;

export interface WaiterChainProps<T extends WaitType = typeof ResourceTypes.WAITER> {
  readonly serviceToken: string;
  readonly region: string;
  /** The operation resource's physical ID: a change (replacement) restarts the wait. */
  readonly imageId: string;
  readonly timeout: Duration;
  readonly lastLinkProperties?: RenderedProperties<T>;
  readonly allLinkProperties?: RenderedProperties<T>;
  /** Another kind of wait with the same chaining (e.g. a builder's setup). @default ResourceTypes.WAITER */
  readonly resourceType?: T;
  /** The property (and attribute) that carries the subject of the wait from link to link. @default 'ImageId' */
  readonly subjectProperty?: AttributeName<T> & PropertyName<T>;
}

/**
 * The waiter resources of one image: `timeout` split evenly into links of at
 * most 50 minutes. Link n+1 takes its image ID from link n's attribute, so
 * CloudFormation runs them one after the other, and the last link's
 * attributes resolve only when the image is available.
 */
export class WaiterChain<T extends WaitType = typeof ResourceTypes.WAITER> extends Construct {
  public readonly links: ProviderResource<T>[] = [];
  public readonly imageId: string;

  constructor(scope: Construct, id: string, props: WaiterChainProps<T>) {
    super(scope, id);
    const total = props.timeout.toSeconds();
    const count = Math.ceil(total / Timing.LINK_BUDGET_SECONDS);
    const budget = Math.ceil(total / count);

    const subject = props.subjectProperty ?? 'ImageId' as AttributeName<T> & PropertyName<T>;
    const type = props.resourceType ?? ResourceTypes.WAITER as T;
    let imageId = props.imageId;
    for (let link = 1; link <= count; link++) {
      const isLast = link === count;
      const properties: RenderedProperties<WaitType> = {
        Region: props.region,
        Link: link,
        Links: count,
        BudgetSeconds: budget,
        TimeoutSeconds: total,
      };
      const waiter = new ProviderResource<T>(this, count === 1 ? 'Waiter' : `Waiter${link}`, props.serviceToken, type, {
        ...properties,
        [subject]: imageId,
        ...props.allLinkProperties,
        ...(isLast ? props.lastLinkProperties : {}),
      });
      this.links.push(waiter);
      imageId = waiter.attribute(subject);
    }
    this.imageId = imageId;
  }

  /** An attribute of the last link: it resolves only when the wait is over. */
  public lastAttribute(name: AttributeName<T>): string {
    return this.links[this.links.length - 1].attribute(name);
  }
}
