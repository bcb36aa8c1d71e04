import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { RetiredImageAction } from './enums';
import { RenderedProperties, ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';

/**
 * Options of a retention policy.
 */
export interface ImageRetentionOptions {
  /**
   * What happens to a generation beyond the policy. `DISABLE` and
   * `DEREGISTER` act only on a generation that DescribeImageReferences finds
   * no instance or launch template of the account referring to; one still in
   * use is kept, and tried again by the next sweep. The sweep runs only in a
   * deployment that hands over a new generation of the image or changes its
   * `retention` or `removalPolicy`: a deployment that changes none of them
   * leaves a kept generation as it is.
   *
   * @default RetiredImageAction.DEREGISTER
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html
   */
  readonly action?: RetiredImageAction;
}

/** The shortest age `keepFor` takes: a generation younger than a day is always someone's rollback target or test. */
const MIN_AGE = Duration.days(1);

/**
 * Which earlier generations of an image to keep. Every replacement of an
 * image (a new recipe, a new source) makes a new generation; in each
 * deployment that hands one over (or changes the image's `retention` or
 * `removalPolicy`), cdk-ami finds the construct's generations by
 * their ownership tags (in the image's Region and account) and retires those
 * beyond the policy. It always keeps the current generation and the one before
 * it (the image a rollback of that deployment returns to).
 *
 * @example
 * new AmiFromInstance(this, 'Golden', {
 *   instanceId: 'i-0123456789abcdef0',
 *   retention: ImageRetention.keep(3),
 * });
 */
export abstract class ImageRetention {
  /**
   * Keep the newest `count` generations, the current one included (and,
   * whatever the count, the one before the current: with `keep(1)` it goes
   * one deployment later).
   *
   * @param count how many generations to keep: a whole number, 1 or more
   * @param options what happens to the others
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeregisterImage.html
   */
  public static keep(count: number, options: ImageRetentionOptions = {}): ImageRetention {
    return new CountRetention(count, options.action ?? RetiredImageAction.DEREGISTER);
  }

  /**
   * Keep the generations younger than `age` (by their EC2 `CreationDate`),
   * the current one and the one before it whatever their age.
   *
   * @param age how long a generation is kept: 1 day or more, in whole seconds
   * @param options what happens to the others
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html
   */
  public static keepFor(age: Duration, options: ImageRetentionOptions = {}): ImageRetention {
    return new AgeRetention(age, options.action ?? RetiredImageAction.DEREGISTER);
  }

  /** What happens to a generation beyond the policy. */
  public readonly action: RetiredImageAction;

  protected constructor(action: RetiredImageAction) {
    this.action = action;
  }

  /**
   * The policy as the retention resource's properties, after checking it.
   *
   * @internal
   */
  public abstract _render(scope: IConstruct): RetentionProperties;
}

/** The policy's properties of the retention resource. */
type RetentionProperties = RenderedProperties<typeof ResourceTypes.RETENTION>;

class CountRetention extends ImageRetention {
  constructor(private readonly count: number, action: RetiredImageAction) {
    super(action);
  }

  public _render(scope: IConstruct): RetentionProperties {
    if (!Token.isUnresolved(this.count) && (!Number.isInteger(this.count) || this.count < 1)) {
      throw new AmiValidationError(`retention ImageRetention.keep(${this.count}) is not allowed: count must be a whole number, 1 or more.`, scope);
    }
    return { KeepCount: this.count, Action: this.action };
  }
}

class AgeRetention extends ImageRetention {
  constructor(private readonly age: Duration, action: RetiredImageAction) {
    super(action);
  }

  public _render(scope: IConstruct): RetentionProperties {
    const seconds = this.age.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < MIN_AGE.toSeconds()) {
      throw new AmiValidationError(
        `retention ImageRetention.keepFor(${this.age.toHumanString()}) is not allowed: age must be ${MIN_AGE.toHumanString()} or more, in whole seconds.`, scope);
    }
    return { KeepForSeconds: seconds, Action: this.action };
  }
}
