std = "lua54"
max_line_length = 120
files["spec"] = { std = "+busted", max_line_length = false }
files["vpn.lua.example"] = { std = "lua54" }
exclude_files = { "build/" }
