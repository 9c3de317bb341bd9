/* empty css              */import{b as r}from"./common-DbPCUMAf.js";import{s as m}from"./session-page-DXmGcC-M.js";import"./codemirror-BuOZTuyX.js";m(r("app"),{embed:!0});
