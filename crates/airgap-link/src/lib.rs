//! Links to vehicles: parse an address once into a typed [`Address`], open it as a
//! [`Link`], and exchange MAVLink frames with statistics.
