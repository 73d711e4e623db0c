/** How the report writes its figures: ms to two decimals below 10, one above; counts to `digits`. */
export function ms(value: number): string {
  return Number.isNaN(value) ? 'n/a' : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function fixed(value: number, digits = 3): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}
