//! Slippy-map arithmetic (Web Mercator, the `z/x/y` scheme of OpenStreetMap and every web
//! map): a place to the tile that holds it and back, the tiles covering a box over a range of
//! zooms, and what downloading them would take. Pure: no I/O.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The deepest zoom handled. Zoom 24 is ~2 cm per pixel at the equator; no raster source goes
/// deeper, and it keeps every tile count within a u64.
pub const MAX_ZOOM: u8 = 24;
/// Web Mercator stops here: the square world map ends at ±85.05113°.
pub const MAX_LAT_DEG: f64 = 85.051_128_779_806_59;
/// What a size estimate assumes a tile weighs: a typical OpenStreetMap raster tile over
/// built-up land (tiles over water or empty land are a few hundred bytes, dense cities more).
pub const ESTIMATED_TILE_BYTES: u64 = 15_000;

/// One tile: zoom, column (west to east) and row (north to south, the XYZ convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// A tile, if the zoom is at most [`MAX_ZOOM`] and `x`, `y` lie inside it.
    pub fn new(z: u8, x: u32, y: u32) -> Option<TileId> {
        (z <= MAX_ZOOM && x < tiles_per_side(z) && y < tiles_per_side(z)).then_some(TileId {
            z,
            x,
            y,
        })
    }

    /// The tile holding a place (latitude clamped to what Web Mercator shows).
    pub fn containing(lat_deg: f64, lon_deg: f64, z: u8) -> TileId {
        let z = z.min(MAX_ZOOM);
        TileId {
            z,
            x: column(lon_deg, z),
            y: row(lat_deg, z),
        }
    }

    /// The latitude and longitude of the tile's north-west corner.
    pub fn north_west_deg(&self) -> (f64, f64) {
        let n = f64::from(tiles_per_side(self.z));
        let lon_deg = f64::from(self.x) / n * 360.0 - 180.0;
        let lat_rad = (std::f64::consts::PI * (1.0 - 2.0 * f64::from(self.y) / n))
            .sinh()
            .atan();
        (lat_rad.to_degrees(), lon_deg)
    }

    /// The row as MBTiles (TMS) numbers it: counted from the south.
    pub fn tms_y(&self) -> u32 {
        tiles_per_side(self.z) - 1 - self.y
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// 2^z, the number of tiles across (and down) the world at zoom `z` (≤ [`MAX_ZOOM`]).
pub fn tiles_per_side(z: u8) -> u32 {
    1u32 << z.min(MAX_ZOOM)
}

fn column(lon_deg: f64, z: u8) -> u32 {
    let n = f64::from(tiles_per_side(z));
    let lon = if lon_deg.is_finite() {
        lon_deg.clamp(-180.0, 180.0)
    } else {
        0.0
    };
    clamp_index(((lon + 180.0) / 360.0 * n).floor(), z)
}

fn row(lat_deg: f64, z: u8) -> u32 {
    let n = f64::from(tiles_per_side(z));
    let lat = if lat_deg.is_finite() {
        lat_deg.clamp(-MAX_LAT_DEG, MAX_LAT_DEG)
    } else {
        0.0
    };
    let lat_rad = lat.to_radians();
    let y = (1.0 - (lat_rad.tan() + 1.0 / lat_rad.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    clamp_index(y.floor(), z)
}

/// A float index into 0..2^z (the east and south edges belong to the last tile).
fn clamp_index(v: f64, z: u8) -> u32 {
    let max = tiles_per_side(z) - 1;
    if v <= 0.0 {
        0
    } else if v >= f64::from(max) {
        max
    } else {
        // In range and integral after floor, so the conversion is exact.
        v as u32
    }
}

/// A latitude/longitude box. `west_deg > east_deg` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub south_deg: f64,
    pub west_deg: f64,
    pub north_deg: f64,
    pub east_deg: f64,
}

/// Why a box is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BBoxError {
    #[error("a box is four numbers S,W,N,E in degrees (e.g. 47.10,8.50,47.20,8.60); got {0:?}")]
    Format(String),
    #[error(
        "latitudes must be within -90..90 with south ≤ north; got south {south}, north {north}"
    )]
    Latitude { south: f64, north: f64 },
    #[error("longitudes must be within -180..180; got west {west}, east {east}")]
    Longitude { west: f64, east: f64 },
}

impl BBox {
    /// A box, checked: finite, latitudes in -90..=90 with south ≤ north, longitudes in
    /// -180..=180 (west > east crosses the antimeridian).
    pub fn new(
        south_deg: f64,
        west_deg: f64,
        north_deg: f64,
        east_deg: f64,
    ) -> Result<BBox, BBoxError> {
        let lat_ok = |v: f64| v.is_finite() && (-90.0..=90.0).contains(&v);
        let lon_ok = |v: f64| v.is_finite() && (-180.0..=180.0).contains(&v);
        if !lat_ok(south_deg) || !lat_ok(north_deg) || south_deg > north_deg {
            return Err(BBoxError::Latitude {
                south: south_deg,
                north: north_deg,
            });
        }
        if !lon_ok(west_deg) || !lon_ok(east_deg) {
            return Err(BBoxError::Longitude {
                west: west_deg,
                east: east_deg,
            });
        }
        Ok(BBox {
            south_deg,
            west_deg,
            north_deg,
            east_deg,
        })
    }

    /// The tile rows and column ranges covering the box at zoom `z`: rows north to south,
    /// and one column range, or two when the box crosses the antimeridian.
    fn span(&self, z: u8) -> (RangeInclusive<u32>, Vec<RangeInclusive<u32>>) {
        let rows = row(self.north_deg, z)..=row(self.south_deg, z);
        let west = column(self.west_deg, z);
        let east = column(self.east_deg, z);
        let columns = if self.west_deg <= self.east_deg {
            vec![west..=east]
        } else {
            vec![west..=tiles_per_side(z) - 1, 0..=east]
        };
        (rows, columns)
    }

    /// How many tiles cover the box at zoom `z`.
    pub fn tile_count(&self, z: u8) -> u64 {
        let (rows, columns) = self.span(z);
        let height = u64::from(rows.end() - rows.start()) + 1;
        let width: u64 = columns
            .iter()
            .map(|c| u64::from(c.end().saturating_sub(*c.start())) + 1)
            .sum();
        height * width
    }

    /// Every tile covering the box over `zooms`, zoom by zoom, row by row. Zooms past
    /// [`MAX_ZOOM`] are left out. Lazy: a box of millions of tiles costs nothing to ask.
    pub fn tiles(&self, zooms: RangeInclusive<u8>) -> impl Iterator<Item = TileId> + '_ {
        let zooms = *zooms.start()..=(*zooms.end()).min(MAX_ZOOM);
        zooms.flat_map(move |z| {
            let (rows, columns) = self.span(z);
            rows.flat_map(move |y| {
                columns
                    .clone()
                    .into_iter()
                    .flat_map(move |c| c.map(move |x| TileId { z, x, y }))
            })
        })
    }
}

impl FromStr for BBox {
    type Err = BBoxError;

    /// `S,W,N,E` in degrees.
    fn from_str(s: &str) -> Result<BBox, BBoxError> {
        let numbers: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| BBoxError::Format(s.to_owned()))?;
        match numbers.as_slice() {
            &[south, west, north, east] => BBox::new(south, west, north, east),
            _ => Err(BBoxError::Format(s.to_owned())),
        }
    }
}

impl fmt::Display for BBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.south_deg, self.west_deg, self.north_deg, self.east_deg
        )
    }
}

/// What downloading a box over a range of zooms would take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    pub tiles: u64,
    /// At [`ESTIMATED_TILE_BYTES`] a tile: an order of magnitude, not a promise.
    pub bytes: u64,
}

/// How many tiles cover `bbox` over `zooms`, and roughly how many bytes they weigh.
pub fn estimate(bbox: BBox, zooms: RangeInclusive<u8>) -> Estimate {
    let tiles = (*zooms.start()..=(*zooms.end()).min(MAX_ZOOM))
        .map(|z| bbox.tile_count(z))
        .fold(0u64, u64::saturating_add);
    Estimate {
        tiles,
        bytes: tiles.saturating_mul(ESTIMATED_TILE_BYTES),
    }
}

/// `MIN-MAX` (or one zoom `Z`) as a range, for command lines.
pub fn parse_zooms(s: &str) -> Result<RangeInclusive<u8>, String> {
    let bad = || {
        format!("a zoom range is MIN-MAX with 0 ≤ MIN ≤ MAX ≤ {MAX_ZOOM} (e.g. 10-15); got {s:?}")
    };
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let min: u8 = min.parse().map_err(|_| bad())?;
    let max: u8 = max.parse().map_err(|_| bad())?;
    if min > max || max > MAX_ZOOM {
        return Err(bad());
    }
    Ok(min..=max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_places_land_in_known_tiles() {
        // Zürich main station at zoom 15 (checked against openstreetmap.org's tile URLs).
        let t = TileId::containing(47.3779, 8.5403, 15);
        assert_eq!((t.x, t.y), (17161, 11474));
        // The world at zoom 0 is one tile; both edges belong to it.
        assert_eq!(
            TileId::containing(85.0, -180.0, 0),
            TileId { z: 0, x: 0, y: 0 }
        );
        assert_eq!(
            TileId::containing(-85.0, 180.0, 0),
            TileId { z: 0, x: 0, y: 0 }
        );
        // Poles and non-numbers are clamped, never out of range.
        assert_eq!(TileId::containing(90.0, 0.0, 3).y, 0);
        assert_eq!(TileId::containing(-90.0, 0.0, 3).y, 7);
        assert_eq!(
            TileId::containing(f64::NAN, f64::NAN, 3),
            TileId { z: 3, x: 4, y: 4 }
        );
        assert_eq!(TileId::containing(0.0, 179.999_999, 2).x, 3);
    }

    #[test]
    fn corners_round_trip() {
        for (z, x, y) in [
            (0, 0, 0),
            (5, 3, 17),
            (15, 17161, 11474),
            (24, 1 << 23, 12345),
        ] {
            let t = TileId::new(z, x, y).unwrap();
            let (lat, lon) = t.north_west_deg();
            // Nudged into the tile, the corner maps back to it.
            assert_eq!(TileId::containing(lat - 1e-9, lon + 1e-9, z), t, "{t}");
        }
        assert_eq!(TileId::new(2, 4, 0), None);
        assert_eq!(TileId::new(25, 0, 0), None);
        assert_eq!(TileId::new(3, 1, 2).unwrap().tms_y(), 5);
    }

    #[test]
    fn boxes_count_what_they_list() {
        let b: BBox = "47.30,8.45,47.42,8.62".parse().unwrap();
        for z in 0..=14 {
            assert_eq!(b.tile_count(z), b.tiles(z..=z).count() as u64, "z{z}");
        }
        let e = estimate(b, 10..=14);
        assert_eq!(e.tiles, b.tiles(10..=14).count() as u64);
        assert_eq!(e.bytes, e.tiles * ESTIMATED_TILE_BYTES);
        // Every listed tile is inside the box's corner tiles.
        let nw = TileId::containing(47.42, 8.45, 14);
        let se = TileId::containing(47.30, 8.62, 14);
        for t in b.tiles(14..=14) {
            assert!(
                (nw.x..=se.x).contains(&t.x) && (nw.y..=se.y).contains(&t.y),
                "{t}"
            );
        }
        // A whole-world box at zoom z is 4^z tiles.
        let world = BBox::new(-90.0, -180.0, 90.0, 180.0).unwrap();
        assert_eq!(estimate(world, 0..=2).tiles, 1 + 4 + 16);
        assert_eq!(
            world.tile_count(MAX_ZOOM),
            1u64 << (2 * u32::from(MAX_ZOOM))
        );
    }

    #[test]
    fn a_box_across_the_antimeridian_takes_both_edges() {
        let b = BBox::new(-20.0, 170.0, -10.0, -170.0).unwrap();
        let xs: Vec<u32> = b.tiles(3..=3).map(|t| t.x).collect();
        assert!(xs.contains(&7) && xs.contains(&0), "{xs:?}");
        assert!(!xs.contains(&3));
        assert_eq!(b.tile_count(3), xs.len() as u64);
    }

    #[test]
    fn bad_boxes_and_zooms_say_what_is_expected() {
        assert!(matches!("1,2,3".parse::<BBox>(), Err(BBoxError::Format(_))));
        assert!(matches!(
            "a,2,3,4".parse::<BBox>(),
            Err(BBoxError::Format(_))
        ));
        assert!(matches!(
            "50,2,40,4".parse::<BBox>(),
            Err(BBoxError::Latitude { .. })
        ));
        assert!(matches!(
            "1,200,3,4".parse::<BBox>(),
            Err(BBoxError::Longitude { .. })
        ));
        assert!(matches!(
            "NaN,2,3,4".parse::<BBox>(),
            Err(BBoxError::Latitude { .. })
        ));
        assert_eq!(parse_zooms("10-15"), Ok(10..=15));
        assert_eq!(parse_zooms("7"), Ok(7..=7));
        assert!(parse_zooms("15-10").is_err());
        assert!(parse_zooms("0-25").is_err());
        assert!(parse_zooms("x").is_err());
    }
}
