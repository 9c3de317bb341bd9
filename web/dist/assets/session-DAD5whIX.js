/* empty css              */import{b as m}from"./common-DbPCUMAf.js";import{s as o}from"./session-page-DXmGcC-M.js";import"./codemirror-BuOZTuyX.js";o(m("app"),{embed:!1});
