/** Small helpers shared by the benchmarks. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle]!;
  return (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function repeat(
  runs: number,
  measure: (run: number) => Promise<number>,
): Promise<number[]> {
  const values: number[] = [];
  for (let run = 0; run < runs; run++) values.push(await measure(run));
  return values;
}

export function formatMs(value: number): string {
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(0)} ms`;
}

export interface Row {
  name: string;
  value: string;
  goal?: string;
  note?: string;
}

export function printTable(title: string, rows: Row[]): void {
  const out = [`\n${title}`];
  const width = Math.max(...rows.map((row) => row.name.length));
  for (const row of rows) {
    const goal = row.goal === undefined ? '' : `  (goal ${row.goal})`;
    const note = row.note === undefined ? '' : `  ${row.note}`;
    out.push(`  ${row.name.padEnd(width)}  ${row.value}${goal}${note}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
