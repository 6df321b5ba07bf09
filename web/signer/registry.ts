import { softwareDriver } from './software.js';
import type { SignerDriver } from './types.js';

const drivers = new Map<string, SignerDriver>([[softwareDriver.id, softwareDriver]]);

/** Add a driver, for example one for a CA's local signing client; a later driver with the same id replaces the earlier one. */
export function registerSignerDriver(driver: SignerDriver): void {
  drivers.set(driver.id, driver);
}

/** List the drivers that can work in this browser now, in registration order. */
export async function availableSignerDrivers(): Promise<SignerDriver[]> {
  const all = [...drivers.values()];
  const usable = await Promise.all(all.map((driver) => driver.available().catch(() => false)));
  return all.filter((_, i) => usable[i]);
}
