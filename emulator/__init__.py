"""An AWS stand-in on one machine: moto's server plus what moto lacks for this workflow."""
