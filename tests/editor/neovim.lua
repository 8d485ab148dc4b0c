-- Neovim with the snippet of docs/editors.md (the `vim.lsp.start` one where Neovim has it, the
-- 0.7 `start_client` one otherwise) on workflows/hello.yaml of the project in the current
-- folder. Writes what it saw to $SLUICE_NVIM_OUT: each diagnostic, then the hover of line
-- $SLUICE_HOVER_LINE (1-based), column 15. Run headless by tests/editor/neovim.sh.
local out = assert(io.open(os.getenv("SLUICE_NVIM_OUT"), "w"))
local sluice = os.getenv("SLUICE_BIN")

if vim.lsp.start then
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "yaml",
    callback = function(args)
      vim.lsp.start({
        name = "sluice",
        cmd = { sluice, "lsp" },
        root_dir = vim.fs.dirname(vim.fs.find({ "sluice.toml" }, { upward = true, path = args.file })[1]),
      })
    end,
  })
  out:write("snippet: vim.lsp.start\n")
else
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "yaml",
    callback = function()
      local id = vim.lsp.start_client({ name = "sluice", cmd = { sluice, "lsp" }, root_dir = vim.fn.getcwd() })
      vim.lsp.buf_attach_client(0, id)
    end,
  })
  out:write("snippet: vim.lsp.start_client\n")
end

vim.cmd("edit workflows/hello.yaml")
vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
for _, d in ipairs(vim.diagnostic.get(0)) do
  out:write(string.format("diagnostic %d:%d %s %s\n", d.lnum + 1, d.col + 1, d.code or "", (d.message:gsub("\n", " | "))))
end
local line = tonumber(os.getenv("SLUICE_HOVER_LINE")) - 1
local params = { textDocument = vim.lsp.util.make_text_document_params(), position = { line = line, character = 14 } }
local answers = vim.lsp.buf_request_sync(0, "textDocument/hover", params, 20000) or {}
for _, a in pairs(answers) do
  if a.result then
    out:write("hover " .. (a.result.contents.value:gsub("\n", " | ")) .. "\n")
  end
end
out:close()
vim.cmd("qa!")
