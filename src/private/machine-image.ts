import * as ec2 from 'aws-cdk-lib/aws-ec2';

export function machineImageConfig(imageId: string, osType: ec2.OperatingSystemType, userData?: ec2.UserData): ec2.MachineImageConfig {
  return { imageId, osType, userData: userData ?? ec2.UserData.forOperatingSystem(osType) };
}
