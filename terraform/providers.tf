provider "aws" {
  region                   = var.aws_region
  profile                  = var.aws_profile == "" ? null : var.aws_profile
  shared_credentials_files = [pathexpand(var.credentials_path)]

  default_tags {
    tags = var.tags
  }
}
