# State on local disk: terraform.tfstate for the default workspace (the AWS stack) and
# terraform.tfstate.d/emulator/ for the emulator's. Declared so that tests and tools can move
# it elsewhere with terraform init -backend-config="workspace_dir=...".
terraform {
  backend "local" {}
}
