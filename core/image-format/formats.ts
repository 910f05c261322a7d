/**
 * The image formats sdbatch stores, each with its media type and file extension: the one home of
 * both, for the keys written (image-key.ts) and for everyone who reads them back.
 */
export const IMAGE_FORMATS = {
  png: { contentType: 'image/png', extension: 'png', label: 'PNG' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg', label: 'JPEG' },
  webp: { contentType: 'image/webp', extension: 'webp', label: 'WebP' },
} as const;

export type ImageFormat = keyof typeof IMAGE_FORMATS;
export type ImageFormatInfo = (typeof IMAGE_FORMATS)[ImageFormat];

/** The format a stored key's extension names; undefined when it names none of them. */
export function formatOfKey(key: string): ImageFormatInfo | undefined {
  const extension = key.slice(key.lastIndexOf('.') + 1);
  return Object.values(IMAGE_FORMATS).find((f) => f.extension === extension);
}
