/**
 * Cloudflare Containers' instance types, as the platform sells them (developers.cloudflare.com,
 * Containers, "Limits and instance types"): what one transcoder instance has to work with. The
 * configuration names one (`TRANSCODER_INSTANCE_TYPE`, the same as `instance_type` in
 * wrangler.toml); the transcoder's scratch quota is its disk, and the docs' arithmetic its vCPU.
 * The account runs at most 1,500 vCPU at once, whatever the types.
 */
export const containerInstanceTypes = {
  lite: { vcpu: 1 / 16, memoryMiB: 256, diskGB: 2 },
  basic: { vcpu: 1 / 4, memoryMiB: 1024, diskGB: 4 },
  "standard-1": { vcpu: 1 / 2, memoryMiB: 4096, diskGB: 8 },
  "standard-2": { vcpu: 1, memoryMiB: 6144, diskGB: 12 },
  "standard-3": { vcpu: 2, memoryMiB: 8192, diskGB: 16 },
  "standard-4": { vcpu: 4, memoryMiB: 12_288, diskGB: 20 },
} as const;

export type ContainerInstanceType = keyof typeof containerInstanceTypes;

/** The account's limit on vCPU running at the same time. */
export const ACCOUNT_CONCURRENT_VCPU = 1500;

export function isContainerInstanceType(name: string): name is ContainerInstanceType {
  return Object.hasOwn(containerInstanceTypes, name);
}

/** An instance type's disk in bytes (GB as Cloudflare counts them: 10^9). */
export function instanceDiskBytes(type: ContainerInstanceType): number {
  return containerInstanceTypes[type].diskGB * 1e9;
}

/** What the image and the system take of an instance's disk. */
const RESERVED_DISK_BYTES = 1e9;

/**
 * The transcoder's scratch quota on an instance of `type` (`TRANSCODER_SCRATCH_BYTES`): its disk
 * less the image's share. The container sets it in production; each local transcoder gets the same.
 */
export function instanceScratchBytes(type: ContainerInstanceType): number {
  return Math.max(0, instanceDiskBytes(type) - RESERVED_DISK_BYTES);
}
