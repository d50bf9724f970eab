-- The same run as resume_ppo.lua with LoRA adapters on the policy.
rlaif_test_lora = true
dofile((arg[0]:gsub("resume_ppo_lora%.lua$", "resume_ppo.lua")))
