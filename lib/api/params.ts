import { z } from 'zod';

/** A non-negative whole number given as text (a query or path parameter). */
export function byteOffset(name: string) {
  return z
    .string({ error: `${name} is required` })
    .regex(/^\d{1,16}$/, `${name} must be a non-negative whole number`)
    .transform(Number);
}
