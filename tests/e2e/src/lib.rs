//! WebDriver harness.
