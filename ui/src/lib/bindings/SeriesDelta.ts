export type SeriesDelta = { group: string, columns: Array<string>, t_s: Array<number>, values: Array<Array<number>>, };
