//! Helpers shared by the black-box tests.

#![allow(dead_code)]

pub mod etsy;
